"""The plugin hooks of tapeviz (pluggy project name ``tapeviz``).

Every gradient rule reaches tapeviz through these hooks, the built-in ones included. A plugin is a
module (or object) with ``@hookimpl``-marked functions; third-party packages expose theirs through
the entry-point group ``tapeviz``::

    [project.entry-points.tapeviz]
    cube = "tapeviz_cube.plugin"
"""
import pluggy

hookspec = pluggy.HookspecMarker("tapeviz")
hookimpl = pluggy.HookimplMarker("tapeviz")


@hookspec
def register_gradients(register):
    """Register gradient rules, not-differentiable op types and new op types.

    Called once per process, the first time a gradient is needed (or ``tapeviz plugins`` runs);
    the result is cached. ``register`` offers:

    - ``register(op_type, grad_fn, *, checks=(), override=False)``: ``grad_fn(op, *output_grads)``
      returns one gradient (a Tensor, or None) per input of the op, computed with tapeviz ops so
      that higher orders work. ``checks`` is a sequence of ``tapeviz.CheckCase`` that let
      ``tapeviz check`` verify the rule against finite differences. ``override=True`` replaces a
      rule another plugin registered; without it, registering a taken op type is an error.
      ``needs_inputs=False`` / ``needs_outputs=False`` promise that the rule reads only the shapes
      and dtypes of the op's inputs / outputs, and a sequence of indices (``needs_inputs=(1,)``)
      that it reads only those values: the tape then does not keep the others alive.
      ``batched=True`` declares that the rule handles gradients with one leading batch dimension
      (see ``tapeviz.core.batching``); jacobians then call it once per pass instead of once per row.
      With it, ``diagonal=fn`` gives ``batch_jacobian`` a faster path: ``fn(op, grad)`` takes its
      one-hot seeds in diagonal form (a ``tapeviz.core.batching.DiagonalGradient``) and returns per
      input a DiagonalGradient, a batched Tensor or None, or NotImplemented where it cannot use the
      structure. Element-wise ops pass ``diagonal=tapeviz.core.batching.elementwise(grad_fn)``.
    - ``register.forward(op_type, jvp_fn, *, override=False)``: a forward-mode rule;
      ``jvp_fn(op, *input_tangents)`` returns the tangent of each output (inputs without a tangent
      get None). Optional: forward mode derives JVPs from the gradient rule where none is registered.
    - ``register.not_differentiable(op_type)``: the op passes no gradient (argmax, comparisons).
      Not for ops whose gradient has simply not been written: those must have no entry, so that a
      path through them raises LookupError.
    - ``register.op(op_type, forward, grad_fn=None, *, checks=())``: a new op type;
      ``forward(*numpy_inputs, **attrs)`` computes its value and it becomes callable as
      ``tapeviz.raw_ops.<op_type>(*inputs, **attrs)``. With ``grad_fn`` it also registers the
      rule; without, the op has none yet (declare it ``not_differentiable`` if it has none at all).
      An op type that exists already (a built-in one, or another plugin's) is refused unless
      ``override=True``, which makes ``raw_ops.<op_type>`` run this forward.

    A plugin's registrations apply all together or, if its hook raises, not at all: the plugin is
    then listed as broken and everything else keeps working.
    """
