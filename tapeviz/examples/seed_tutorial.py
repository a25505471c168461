"""Seed tutorial (whole): Tensorflow part 3, automatic differentiation, run with ``import tapeviz as tf``.

This is the GradientTape tutorial the project grew from (``../shared/spec/gradienttape-tutorial.txt`` beside the repository),
every line of its code, in the tutorial's order. It runs top to bottom as a script and prints what the
tutorial prints, with ``tapeviz.Tensor(...)`` where TensorFlow prints ``tf.Tensor(...)``.

Differences from the tutorial, each marked with a comment where it happens:
- the random ``tensor_w`` is replaced by the w the tutorial printed, so the printed numbers reproduce;
- the five cases of ``tensor_x`` run in a loop (the tutorial re-runs its cells by hand), both without
  and with ``tape.watch(tensor_x)``;
- the RuntimeError of the second ``gradient`` call on a non-persistent tape is caught and printed;
- case 2 (int32) uses an int32 w chosen so that the tutorial's printed y and loss reproduce;
- plotting is optional (headless "Agg" backend; skipped when matplotlib is not installed).

The code sits in functions so that tests can call them and check every value; ``main()`` runs them in
the tutorial's order.
"""
import numpy as np

# Plotting is optional: a headless backend, and no plots at all without matplotlib (the arrays to plot
# are computed anyway).
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

import tapeviz as tf

# The w the tutorial printed after tf.random.set_seed(1); tapeviz's random numbers are reproducible
# but are not TensorFlow's bits, so the tutorial's numbers reproduce only with this w.
TUTORIAL_W = [[-13.394766, 16.05925, 5.238968],
              [-2.6181564, -8.322439, 5.700083],
              [19.031418, -2.5960197, 6.4040756],
              [4.195833, 5.4652596, 4.5779514]]

# Case 2 converts w and b to tf.int32, but the tutorial does not print the int w it used. This one
# reproduces its printed y = [[-5 103 -64]] and loss 4910.
TUTORIAL_W_INT32 = [[-13, 10, -19],
                    [-2, 19, -8],
                    [5, 10, -6],
                    [-1, 6, -3]]


# ------------------------------------------------------------------------------------------------
# tf.GradientTape
# ------------------------------------------------------------------------------------------------
def gradient_tape_basics():
    tensor_x = tf.Variable(2.0) # x: a Tensorflow variable of scalar

    with tf.GradientTape() as tape: # Tensorflow remembers all the executed operations in ```tf.GradientTape``` by storing them into a ```tape```
      tensor_y1 = tensor_x**2 # y1
      tensor_y2 = tensor_x**3 # y2

    tensor_dy1_dx = tape.gradient(tensor_y1, tensor_x) # dy = 2x dx
    print(tensor_dy1_dx)

    # The tutorial shows this call failing; the script catches the error and prints it, to go on.
    error = None
    try:
        tensor_dy2_dx = tape.gradient(tensor_y2, tensor_x) # dy = 3x^2 dx
        print(tensor_dy2_dx)
    except RuntimeError as caught:
        error = caught
        print(f"RuntimeError: {caught}")

    # Persistent tape
    with tf.GradientTape(persistent=True) as tape:
      tensor_y1 = tensor_x**2
      tensor_y2 = tensor_x**3
      tensor_y3 = 4*tensor_x + 1

    # To calculate the gradient of some target with respect to some source
    tensor_dy1_dx_p = tape.gradient(tensor_y1, tensor_x) # dy = 2x dx
    tensor_dy2_dx_p = tape.gradient(tensor_y2, tensor_x) # dy = 3x^2 dx
    tensor_dy3_dx_p = tape.gradient(tensor_y3, tensor_x) # dy = 4 dx
    print(tensor_dy1_dx_p)
    print(tensor_dy2_dx_p)
    print(tensor_dy3_dx_p)

    del tape

    return {"dy1_dx": tensor_dy1_dx, "error": error,
            "persistent": (tensor_dy1_dx_p, tensor_dy2_dx_p, tensor_dy3_dx_p)}


# ------------------------------------------------------------------------------------------------
# Conditions to use tf.GradientTape.gradient()
# ------------------------------------------------------------------------------------------------
def make_w_and_b():
    tf.random.set_seed(1)
    # The tutorial's random w. Kept so the API runs, but not used: tapeviz's random bits differ from
    # TensorFlow's, and the tutorial's numbers need its printed w (next line).
    tensor_w_random = tf.Variable(tf.random.uniform((4, 3), minval=-20, maxval=20, dtype=tf.float32), name='w') # w: weight
    tensor_w = tf.Variable(tf.constant(TUTORIAL_W, dtype=tf.float32), name='w') # w: weight, as the tutorial printed it
    tensor_b = tf.Variable(tf.ones(3, dtype=tf.float32), name='b') # bias
    print(tensor_w)
    return tensor_w, tensor_b


def make_case(case, tensor_w, tensor_b):
    """tensor_x (and w, b) for one of the tutorial's five cases; w and b are new int32 ones in case 2."""
    if case == 1:
        tensor_x = tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name='x') # Case 1
    elif case == 2:
        # "Note that in this case, tensor_w and tensor_b are also converted to type tf.int32". They are
        # created before x, so watched_variables() lists them first, as the tutorial prints.
        tensor_w = tf.Variable(tf.constant(TUTORIAL_W_INT32, dtype=tf.int32), name='w')
        tensor_b = tf.Variable(tf.ones(3, dtype=tf.int32), name='b')
        tensor_x = tf.Variable([[1, 2, 3, 4]], dtype=tf.int32, name='x') # Case 2
    elif case == 3:
        tensor_x = tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, trainable=False) # Case 3
    elif case == 4:
        tensor_x = tf.constant([[1, 2, 3, 4]], dtype=tf.float32) # Case 4
    elif case == 5:
        tensor_x = tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name='x') + 1.0 # Case 5
    else:
        raise ValueError(f"the tutorial has cases 1 to 5, not {case}")
    return tensor_x, tensor_w, tensor_b


def run_case(tensor_x, tensor_w, tensor_b, watch):
    """The tutorial's tape for one tensor_x: the first experiment (watch=False) or the second (watch=True)."""
    with tf.GradientTape(persistent=True) as tape:
      if watch:
        tape.watch(tensor_x) # Uncomment this line
      tensor_y = tensor_x @ tensor_w + tensor_b # @ is matrix multiplication
      tensor_loss = tf.reduce_mean(tensor_y**2) # dloss = mean(2*y) dy; dloss = (2*y[0] + 2*y[1] + 2*y[2])/3

    print('[+] tensor_y: ', tensor_y)
    print('[+] tensor_loss: ', tensor_loss)

    tensor_dy_dx = tape.gradient(tensor_y, tensor_x)
    tensor_dloss_dy = tape.gradient(tensor_loss, tensor_y) # source tensor_y has 3 elements, so there will be 3 derivative: dloss/dy[0] = 2*y[0]/3, dloss/dy[1]=2*y[1]/3, dloss/dy[2]=2*y[2]/3
    tensor_dloss_dx = tape.gradient(tensor_loss, tensor_x)

    print('[+] tensor_dy_dx: ', tensor_dy_dx)
    print('[+] tensor_dloss_dy: ', tensor_dloss_dy)
    print('[+] tensor_dloss_dx: ', tensor_dloss_dx)

    watched = [watched_var.name for watched_var in tape.watched_variables()]
    if watch:
        # The tutorial prints the watched variables for the five cases of the second experiment.
        print('[+] watched variables: ', [watched_var.name for watched_var in tape.watched_variables()])

    return {"tape": tape, "x": tensor_x, "w": tensor_w, "b": tensor_b, "y": tensor_y, "loss": tensor_loss,
            "dy_dx": tensor_dy_dx, "dloss_dy": tensor_dloss_dy, "dloss_dx": tensor_dloss_dx,
            "watched": watched}


def five_cases(tensor_w, tensor_b, watch):
    """Both experiments of the tutorial run the tape once per case; here a loop does it."""
    # A heading per experiment (the tutorial's text says which experiment its outputs belong to).
    print('[experiment] with tape.watch(tensor_x)' if watch else '[experiment] without tape.watch(tensor_x)')
    results = {}
    for case in range(1, 6):
        print(f'Case {case}:')
        tensor_x, case_w, case_b = make_case(case, tensor_w, tensor_b)
        results[case] = run_case(tensor_x, case_w, case_b, watch)
        print()
    return results


# ------------------------------------------------------------------------------------------------
# Source as list, dictionary; target as dictionary (case 1 of tensor_x)
# ------------------------------------------------------------------------------------------------
def sources_and_targets(case1):
    tape, tensor_x, tensor_w, tensor_b = case1["tape"], case1["x"], case1["w"], case1["b"]
    tensor_y, tensor_loss = case1["y"], case1["loss"]

    tensor_dloss_dw, tensor_dloss_db = tape.gradient(tensor_loss, [tensor_w, tensor_b])

    print('[+] tensor_dloss_dw: ', tensor_dloss_dw)
    print('[+] tensor_dloss_db: ', tensor_dloss_db)

    dic_vars = {
        'tensor_w': tensor_w,
        'tensor_b': tensor_b
    }
    tensor_dloss_dwdb_dic = tape.gradient(tensor_loss, dic_vars)

    print('[+] tensor_dloss_dw_dic: ', tensor_dloss_dwdb_dic['tensor_w'])
    print('[+] tensor_dloss_db_dic: ', tensor_dloss_dwdb_dic['tensor_b'])

    tensor_dydloss_dx = tape.gradient({'tensor_y': tensor_y, 'tensor_loss': tensor_loss}, tensor_x)

    print('[+] tensor_dydloss_dx: ', tensor_dydloss_dx)
    # The tutorial's output shows the watched variables right after this line (case 1).
    print([watched_var.name for watched_var in tape.watched_variables()])

    tensor_dy_dx, tensor_dloss_dy = case1["dy_dx"], case1["dloss_dy"]
    print(tensor_x.shape) # source
    print(tensor_dy_dx.shape) # gradient
    print(tensor_y.shape) # source
    print(tensor_dloss_dy.shape) # gradient
    print(tensor_w.shape) # source
    print(tensor_dloss_dw.shape) # gradient
    print(tensor_b.shape) # source
    print(tensor_dloss_db.shape) # gradient

    return {"dloss_dw": tensor_dloss_dw, "dloss_db": tensor_dloss_db, "dloss_dwdb_dic": tensor_dloss_dwdb_dic,
            "dydloss_dx": tensor_dydloss_dx}


# ------------------------------------------------------------------------------------------------
# Checking which operations are stored for the backward propagation
# ------------------------------------------------------------------------------------------------
def dense_layers():
    layer1 = tf.keras.layers.Dense(2, activation='relu', name="dense_1")
    # The calculation of Dense is: output = activation(dot(input, kernel) + bias)
    layer2 = tf.keras.layers.Dense(4, activation='relu', name="dense_2")
    # In ```Dense`` by defaults, kernel is initialized according to glorot uniform and bias is initialized with zeros
    tensor_x = tf.constant([[1., 2., 3.]])

    with tf.GradientTape(persistent=True) as tape:
      # Forward pass
      tensor_h = layer1(tensor_x)
      tensor_y = layer2(tensor_h)
      tensor_loss = tf.reduce_mean(tensor_y**2)

    # Calculate gradients with respect to each trainable variables
    print('[+] The trainable vairables of layer1: ', layer1.trainable_variables)
    print('[+] The trainable vairables of layer2: ', layer2.trainable_variables)
    tensor_dloss_dvars_layer1 = tape.gradient(tensor_loss, layer1.trainable_variables)
    tensor_dloss_dvars_layer2 = tape.gradient(tensor_loss, layer2.trainable_variables)

    print("Dense 1:")
    for var, grad in zip(layer1.trainable_variables, tensor_dloss_dvars_layer1):
      print('[+] variable name, shape: {0}, {1}'.format(var.name, grad.shape)) # The shape of gradient is the same as the shape of source

    print("Dense 2:")
    for var, grad in zip(layer2.trainable_variables, tensor_dloss_dvars_layer2):
      print('[+] variable name, shape: {0}, {1}'.format(var.name, grad.shape)) # The shape of gradient is the same as the shape of source

    return {"layer1": layer1, "layer2": layer2, "grads1": tensor_dloss_dvars_layer1,
            "grads2": tensor_dloss_dvars_layer2, "loss": tensor_loss}


# ------------------------------------------------------------------------------------------------
# Control flow/Choose scope for assigning variable by if
# ------------------------------------------------------------------------------------------------
def control_flow(tensor_x1=None, tensor_x2=None, verbose=True):
    """Both control-flow experiments; the plot section re-runs them with vectors as x1 and x2
    (verbose=False: the tutorial prints nothing there)."""
    say = print if verbose else (lambda *args: None)

    if tensor_x1 is None:
        tensor_x1 = tf.Variable(3.0)
        tensor_x2 = tf.Variable(3.0)

    tensor_flag = tf.constant(2.0) # a tensor to use in the if condition; must be float

    with tf.GradientTape(persistent=True) as tape:
      tape.watch(tensor_x1)
      tape.watch(tensor_x2)
      tape.watch(tensor_flag)
      if tensor_flag % 2 == 0:
        tensor_res_1 = 4*(tensor_x1**2) + 3
      else:
        tensor_res_1 = tensor_x2**3

    tensor_dres1_dx1, tensor_dres1_dx2 = tape.gradient(tensor_res_1, [tensor_x1, tensor_x2])
    say('[+] tensor_dres1_dx1: ', tensor_dres1_dx1)
    say('[+] tensor_dres1_dx2', tensor_dres1_dx2)

    with tf.GradientTape(persistent=True) as tape2:
      tape2.watch(tensor_x1)
      tape2.watch(tensor_x2)

      if tf.math.equal(tensor_res_1, 4*(tensor_x1**2) + 3).numpy().all():
        tensor_res_2 = tensor_x2**3
      else:
        tensor_res_2 = 4*(tensor_x1**2) + 3

    tensor_dres2_dx1, tensor_dres2_dx2 = tape2.gradient(tensor_res_2, [tensor_x1, tensor_x2]) # Remember to use ```tape2.gradient()``` here, not ```tape.gradient()```. Otherwise, the gradient results will not be as expected.
    say('[+] tensor_dres2_dx1: ', tensor_dres2_dx1)
    say('[+] tensor_dres2_dx2', tensor_dres2_dx2)

    tensor_dres2_dx1_tmp, tensor_dres2_dx2_tmp = tape.gradient(tensor_res_2, [tensor_x1, tensor_x2])

    say('[+] tensor_dres2_dx1_tmp: ', tensor_dres2_dx1_tmp) # None. Is that because ```tensor_x1``` is not assigned to ```tensor_res_2```? Not exactly, it is because in the context of ```tape`` does not exist the ```tensor_res_2```
    say('[+] tensor_dres2_dx2_tmp: ', tensor_dres2_dx2_tmp) # None. The same reason as above.

    return {"res_1": tensor_res_1, "dres1_dx1": tensor_dres1_dx1, "dres1_dx2": tensor_dres1_dx2,
            "res_2": tensor_res_2, "dres2_dx1": tensor_dres2_dx1, "dres2_dx2": tensor_dres2_dx2,
            "dres2_dx1_tmp": tensor_dres2_dx1_tmp, "dres2_dx2_tmp": tensor_dres2_dx2_tmp}


# ------------------------------------------------------------------------------------------------
# Plot a function and its gradient
# ------------------------------------------------------------------------------------------------
def plot_function_and_gradient():
    tensor_x1 = tf.linspace(-15.0, 15.0, 150+1)
    tensor_x2 = tf.linspace(-15.0, 15.0, 150+1)

    # "Get the codes in the previous section as example with one change": the two control-flow tapes
    # again, with the vectors as x1 and x2.
    results = control_flow(tensor_x1, tensor_x2, verbose=False)
    tensor_res_1, tensor_dres1_dx1 = results["res_1"], results["dres1_dx1"]
    tensor_res_2, tensor_dres2_dx2 = results["res_2"], results["dres2_dx2"]

    # Without matplotlib the arrays are still computed (and returned), only the plots are skipped.
    # plt.figure() starts each plot on its own figure, as the tutorial's two notebook cells do.
    if plt is not None:
        plt.figure()
        plt.plot(tensor_x1, tensor_res_1, label='res1')
        plt.plot(tensor_x1, tensor_dres1_dx1, label='dres1')
        plt.legend()

        plt.figure()
        plt.plot(tensor_x2, tensor_res_2, label='res2')
        plt.plot(tensor_x2, tensor_dres2_dx2, label='dres2')
        plt.legend()
        plt.close('all')

    return {"x1": tensor_x1, "x2": tensor_x2, "res_1": tensor_res_1, "dres1_dx1": tensor_dres1_dx1,
            "res_2": tensor_res_2, "dres2_dx2": tensor_dres2_dx2, "plotted": plt is not None}


def main():
    results = {"basics": gradient_tape_basics()}
    tensor_w, tensor_b = make_w_and_b()
    results["w"], results["b"] = tensor_w, tensor_b
    results["without_watch"] = five_cases(tensor_w, tensor_b, watch=False)
    results["with_watch"] = five_cases(tensor_w, tensor_b, watch=True)
    results["sources"] = sources_and_targets(results["with_watch"][1])
    results["dense"] = dense_layers()
    results["control_flow"] = control_flow()
    results["plot"] = plot_function_and_gradient()
    return results


if __name__ == "__main__":
    main()
