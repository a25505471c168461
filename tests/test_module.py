"""tf.Module and tf.name_scope against TensorFlow 2.21's observed behaviour (values written here as facts)."""
import pytest

import tapeviz as tf


class Dense(tf.Module):
    def __init__(self, in_features, out_features, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(tf.random.normal([in_features, out_features]), name='w')
        self.b = tf.Variable(tf.zeros([out_features]), name='b')


class Everything(tf.Module):
    def __init__(self):
        super().__init__()
        self.z = tf.Variable(1., name="z")
        self.a = tf.Variable(1., name="a", trainable=False)
        self.lst = [tf.Variable(2., name="l0"), (tf.Variable(3., name="t0"),)]
        self.d = {"y": tf.Variable(4., name="dy"), "b": tf.Variable(5., name="db")}
        self.sub = Dense(1, 1, name="sub")
        self.subs = [Dense(1, 1)]
        self.z_again = self.z  # the same variable twice is collected once


def test_variables_are_found_through_attributes_lists_tuples_dicts_and_submodules_in_tensorflows_order():
    module = Everything()
    # TF 2.21: attributes sorted by name, dict keys sorted, own variables before the submodules'.
    assert [v.name for v in module.variables] == ['a:0', 'db:0', 'dy:0', 'l0:0', 't0:0', 'z:0',
                                                  'b:0', 'w:0', 'b:0', 'w:0']
    assert [v.name for v in module.trainable_variables] == ['db:0', 'dy:0', 'l0:0', 't0:0', 'z:0',
                                                            'b:0', 'w:0', 'b:0', 'w:0']
    assert [v.name for v in module.non_trainable_variables] == ['a:0']
    assert module.variables[6] is module.sub.b and module.variables[9] is module.subs[0].w
    assert module.name == "everything"
    assert [m.name for m in module.submodules] == ["sub", "dense"]
    assert isinstance(module.variables, tuple)


def test_nested_modules_are_walked_depth_first_after_the_parents_own_variables():
    class Outer(tf.Module):
        def __init__(self):
            super().__init__()
            self.inner = Everything()
            self.v = tf.Variable(0., name="outer_v")
    outer = Outer()
    names = [v.name for v in outer.variables]
    assert names[0] == "outer_v:0" and names[1:] == [v.name for v in outer.inner.variables]
    assert [m.name for m in outer.submodules] == ["everything", "sub", "dense"]


def test_module_names_and_name_scopes():
    flex = tf.Module(name="flex")
    assert flex.name == "flex" and flex.name_scope.name == "flex/"
    with flex.name_scope:
        assert tf.Variable(1.0, name="inscope").name == "flex/inscope:0"
    assert tf.Variable(1.0, name="outside").name == "outside:0"
    with tf.name_scope("outer"):
        inner = tf.Module(name="inner")
        with tf.name_scope("deeper") as scope:
            assert scope == "outer/deeper/"
            assert tf.Variable(1.0).name == "outer/deeper/Variable:0"
    with inner.name_scope:
        assert tf.Variable(1.0, name="v").name == "outer/inner/v:0"
    assert tf.Module().name == "module"

    class SequentialModule(tf.Module):
        pass
    assert SequentialModule().name == "sequential_module"


def test_with_name_scope_decorator_names_variables_made_in_the_method():
    class Lazy(tf.Module):
        @tf.Module.with_name_scope
        def __call__(self, x):
            self.w = tf.Variable(x, name="w")
            return self.w
    assert Lazy(name="lazy")(1.0).name == "lazy/w:0"


def test_an_invalid_module_name_is_refused_as_tensorflow_refuses_it():
    with pytest.raises(ValueError, match="'bad name' is not a valid module name. Module names must be valid "
                                         "Python identifiers"):
        tf.Module(name="bad name")


def test_a_module_referring_to_itself_or_its_parent_does_not_loop():
    parent = tf.Module(name="parent")
    child = tf.Module(name="child")
    parent.child, child.parent, parent.me = child, parent, parent
    parent.v = tf.Variable(1.0, name="v")
    assert [v.name for v in parent.variables] == ["v:0"]
    assert [m.name for m in parent.submodules] == ["child"]
