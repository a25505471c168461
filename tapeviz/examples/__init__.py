"""Example scripts bundled with tapeviz: the seed tutorial, its sections, and one script per reason a
gradient comes out None. The inspector's Examples menu lists them; each runs on its own too."""
