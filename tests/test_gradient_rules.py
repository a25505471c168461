"""Every registered gradient rule against finite differences, first and second order.

The cases come from the registry (each rule registers its CheckCases), so a newly registered rule
is checked here without new test code.
"""
import numpy as np
import pytest

import tapeviz as tv
from tapeviz.core import registry
from tapeviz.core.plugins import Registrar, PluginInfo
from tapeviz.testing import check_gradients, registered_rules

RULES = [reg.op_type for reg in registered_rules()]


def test_registry_has_the_core_families():
    for op_type in ("AddV2", "Mul", "Sin", "Pow"):
        assert op_type in RULES


@pytest.mark.parametrize("op_type", RULES)
def test_rule_matches_finite_differences(op_type):
    results = check_gradients(op_types=[op_type])
    assert results, f"no checks ran for {op_type}"
    failures = [str(r) for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert {r.order for r in results} >= {1}


def test_every_differentiable_rule_is_checked_at_second_order():
    orders = {}
    for result in check_gradients(op_types=RULES[:3]):
        orders.setdefault(result.op_type, set()).add(result.order)
    assert all(found == {1, 2} for found in orders.values()), orders


@pytest.mark.parametrize("rule, expected", [
    # Results: first order, second order, forward mode (derived from the rule).
    # Off by a factor: wrong at first order and in forward mode (its own derivative is consistent with it).
    (lambda op, g: g * tv.cos(op.inputs[0]) * 1.5, [False, True, False]),
    # Right values computed outside the tape: right at first order and in forward mode, wrong at second.
    (lambda op, g: g * tv.constant(np.cos(op.inputs[0].numpy())), [True, False, True]),
])
def test_checker_catches_a_wrong_rule(rule, expected):
    registrar = Registrar("test-wrong-rule")
    registrar.op("WrongSin", np.sin, rule,
                 checks=[tv.CheckCase(lambda x: tv.raw_ops.WrongSin(x), (np.array([0.3, -1.2]),))])
    registrar.commit(PluginInfo("test-wrong-rule", "", "test"))
    try:
        results = check_gradients(op_types=["WrongSin"])
        assert [r.passed for r in results] == expected
    finally:
        _forget("WrongSin")


def _forget(op_type):
    for table in (registry.registrations, registry.gradient_functions, registry.forward_functions,
                  registry.op_definitions):
        table.pop(op_type, None)


def test_checker_reports_a_case_that_never_runs_its_op():
    registrar = Registrar("test-mislabelled")
    registrar.op("NeverRun", np.negative, lambda op, g: -g,
                 checks=[tv.CheckCase(lambda x: -x, (np.array([1.0]),))])
    registrar.commit(PluginInfo("test-mislabelled", "", "test"))
    try:
        results = check_gradients(op_types=["NeverRun"])
        assert results and all("never runs an op of type NeverRun" in r.detail for r in results)
    finally:
        _forget("NeverRun")


def test_checker_catches_a_rule_that_reads_values_it_promised_not_to():
    registrar = Registrar("test-liar")
    registrar.op("Sq2", lambda x: x * x, checks=[tv.CheckCase(lambda x: tv.raw_ops.Sq2(x), (np.array([1.0, 2.0]),))])
    registrar("Sq2", lambda op, g: g * 2.0 * op.inputs[0], needs_inputs=False,
              checks=[tv.CheckCase(lambda x: tv.raw_ops.Sq2(x), (np.array([1.0, 2.0]),))])
    registrar.commit(PluginInfo("test-liar", "", "test"))
    try:
        # first order, second order, forward mode derived from the rule: all read zero stand-ins
        assert [r.passed for r in check_gradients(op_types=["Sq2"])] == [False, False, False]
    finally:
        _forget("Sq2")


def test_large_values_a_rule_does_not_read_are_not_kept_by_the_tape():
    x = tv.Variable(np.ones((64, 64), np.float32))
    with tv.GradientTape() as tape:
        y = x + 1.0       # AddV2 reads neither value: its record keeps stand-ins
        z = tv.nn.relu(y)  # Relu reads its output only
    recorded = {op.type: op for op in tape._operations()}
    assert recorded["AddV2"].inputs[0]._value.strides == (0, 0)
    assert recorded["Relu"].inputs[0]._value.strides == (0, 0)
    assert recorded["Relu"].outputs[0]._value is z._value
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), np.ones((64, 64)))
