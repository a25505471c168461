"""The plugin's own test suite: every rule it registers passes tapeviz's finite-difference checks."""
from tapeviz.testing import check_gradients


def test_softclip_rules_match_finite_differences_at_first_and_second_order():
    results = check_gradients(plugin="softclip")
    assert {r.op_type for r in results} == {"SoftClip", "LogCosh"}
    assert {r.order for r in results} == {1, 2}
    failures = [str(r) for r in results if not r.passed]
    assert not failures, "\n".join(failures)
