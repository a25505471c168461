/* OpRecorder: the recorder's op_executed for the usual op (recorder.Recorder.op_executed is the reference). */
#include "recordfast.h"

typedef struct {
    PyObject_HEAD
    Walker *walker;
    PyObject *recorder;     /* the Recorder: its _last_output is set here */
    PyObject *records;      /* the Recorder's list of raw records (never replaced) */
    PyObject *tape_sets;    /* dict: tape-set key -> code (see Recorder.op_executed) */
    PyObject *paused;       /* set of paused tape ids */
    PyObject *seq;          /* the Recorder's itertools.count */
    PyObject *lock;         /* the Recorder's RLock */
    PyObject *state;        /* tapeviz.core.context.state (thread-local) */
    PyObject *seen;         /* recorder._backward_seen (thread-local) */
    PyObject *held;         /* recorder._held (thread-local) */
    PyObject *slow;         /* the Python op_executed */
    PyObject *drain;        /* called when a batch is full */
    PyObject *tape_set_of;  /* (recorded_on, key) -> the tape set's code, for a key not cached yet */
    Py_ssize_t batch;       /* records that make a batch */
    long long batch_bytes;  /* output bytes that make a batch */
    long long bytes;        /* output bytes of the records appended here since the last drain */
    vectorcallfunc vectorcall;
} OpRecorder;

/* 1: recorded; 0: the Python path must handle this op (nothing was changed); -1: error. */
static int
record_fast(OpRecorder *r, PyObject *const *args)
{
    PyObject *op_type = args[0], *inputs = args[1], *outputs = args[2], *attrs = args[3], *grad_fn = args[4],
             *recorded_on = args[5];
    if (!PyTuple_CheckExact(outputs) || PyTuple_GET_SIZE(outputs) != 1 || !PyList_CheckExact(recorded_on)) {
        return 0;
    }
    /* The frame that ran the op: the caller of the core's record(), which called this object. */
    PyFrameObject *recording = PyEval_GetFrame();
    if (recording == NULL) {
        return 0;
    }
    PyFrameObject *frame = PyFrame_GetBack(recording);
    if (frame == NULL) {
        return 0;
    }
    PyObject *location = NULL;
    PyObject *seen_dict = PyObject_GetAttr(r->seen, rf_str_dict);
    if (seen_dict == NULL || !PyDict_Check(seen_dict)) {
        Py_XDECREF(seen_dict);
        Py_DECREF(frame);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *reader = rf_local_item(seen_dict, rf_str_reader);
    Py_DECREF(seen_dict);
    if (reader == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(frame);
            return -1;
        }
        reader = Py_NewRef(Py_None);  /* the class's default */
    }
    if (reader == (PyObject *)frame) {
        /* A ReadVariableOp right after its variable's access was watched: that walk's answer. */
        PyObject *found = rf_get_optional(r->seen, rf_str_read_found);
        if (found == NULL || !PyTuple_Check(found) || PyTuple_GET_SIZE(found) != 2
                || PyTuple_GET_ITEM(found, 1) != Py_False) {
            Py_XDECREF(found);
            Py_DECREF(reader);
            Py_DECREF(frame);
            return PyErr_Occurred() ? -1 : 0;
        }
        location = Py_NewRef(PyTuple_GET_ITEM(found, 0));
        Py_DECREF(found);
        if (PyObject_SetAttr(r->seen, rf_str_reader, Py_None) < 0
                || PyObject_SetAttr(r->seen, rf_str_read_found, Py_None) < 0) {
            Py_DECREF(location);
            Py_DECREF(reader);
            Py_DECREF(frame);
            return -1;
        }
    }
    else {
        location = rf_fast_walk(r->walker, frame);
    }
    Py_DECREF(reader);
    Py_DECREF(frame);
    if (location == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = 0;
    PyObject *held_ops = NULL, *tapes_now = NULL, *key = NULL, *value = NULL, *out_id = NULL, *seq = NULL,
             *scope = NULL, *record = NULL, *state_dict = NULL;
    held_ops = rf_get_optional(r->held, rf_str_ops);
    if (held_ops == NULL || !PyList_Check(held_ops) || PyList_GET_SIZE(held_ops) != 0) {
        goto done;
    }
    state_dict = PyObject_GetAttr(r->state, rf_str_dict);
    if (state_dict == NULL || !PyDict_Check(state_dict)) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    tapes_now = rf_local_item(state_dict, rf_str_tapes);
    if (tapes_now == NULL || !PyList_Check(tapes_now) || PyList_GET_SIZE(tapes_now) > 1
            || PySet_GET_SIZE(r->paused) != 0) {
        goto done;
    }
    long long tape_key = 0;
    if (PyList_GET_SIZE(tapes_now) == 1) {
        tape_key = (long long)(intptr_t)PyList_GET_ITEM(tapes_now, 0);
        if (PyList_GET_SIZE(recorded_on) == 0) {
            tape_key = -tape_key;
        }
    }
    key = PyLong_FromLongLong(tape_key);
    if (key == NULL) {
        status = -1;
        goto done;
    }
    PyObject *tape_set = PyDict_GetItemWithError(r->tape_sets, key);  /* borrowed */
    if (tape_set != NULL) {
        Py_INCREF(tape_set);
    }
    else if (PyErr_Occurred()) {
        status = -1;
        goto done;
    }
    else {  /* a new tape (each training step's is): the Python method codes the set and caches it */
        tape_set = PyObject_CallFunctionObjArgs(r->tape_set_of, recorded_on, key, NULL);
        if (tape_set == NULL) {
            status = -1;
            goto done;
        }
    }
    PyObject *output = PyTuple_GET_ITEM(outputs, 0);
    value = rf_get_optional(output, rf_str_value);
    out_id = rf_get_optional(output, rf_str_id);
    if (value == NULL || out_id == NULL) {
        Py_DECREF(tape_set);
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    /* The record: the fixed fields, then each input's (id, value): one tuple, no Tensor in it. */
    if (!PyTuple_CheckExact(inputs)) {
        Py_DECREF(tape_set);
        goto done;
    }
    Py_ssize_t n_inputs = PyTuple_GET_SIZE(inputs);
    record = PyTuple_New(FIXED + 2 * n_inputs);
    if (record == NULL) {
        Py_DECREF(tape_set);
        status = -1;
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_inputs; i++) {
        PyObject *tensor = PyTuple_GET_ITEM(inputs, i);
        PyObject *id = rf_get_optional(tensor, rf_str_id);
        PyObject *input_value = id == NULL ? NULL : rf_get_optional(tensor, rf_str_value);
        if (input_value == NULL) {
            Py_XDECREF(id);
            Py_DECREF(tape_set);
            status = PyErr_Occurred() ? -1 : 0;
            goto done;  /* the unfinished record is freed there (its empty slots are NULL) */
        }
        PyTuple_SET_ITEM(record, FIXED + 2 * i, id);
        PyTuple_SET_ITEM(record, FIXED + 2 * i + 1, input_value);
    }
    int held = rf_acquire(r->lock);
    if (held <= 0) {
        Py_DECREF(tape_set);
        status = held;
        goto done;
    }
    seq = PyIter_Next(r->seq);
    scope = seq == NULL ? NULL : rf_local_item(state_dict, rf_str_name_scope);
    if (scope != NULL) {
        PyObject *items[FIXED] = {op_type, Py_None, out_id, value, attrs, grad_fn, tape_set, location, Py_False, seq,
                                  scope};
        {
            for (int i = 0; i < FIXED; i++) {
                PyTuple_SET_ITEM(record, i, Py_NewRef(items[i]));
            }
            /* Nothing the collector must scan: numbers, arrays and shared objects, and no cycle can pass
               through a record (only the records list refers to it). A custom gradient's function could
               refer back to the run: those records stay tracked. */
            if (grad_fn == Py_None) {
                PyObject_GC_UnTrack(record);
            }
            if (PyList_Append(r->records, record) == 0
                    && PyObject_SetAttr(r->recorder, rf_str_last_output, out_id) == 0) {
                status = 1;
            }
        }
    }
    Py_DECREF(tape_set);
    if (rf_release(r->lock, held) < 0) {
        status = -1;
    }
    if (status == 1) {
        PyObject *nbytes = PyObject_GetAttr(value, rf_str_nbytes);
        if (nbytes == NULL) {
            PyErr_Clear();  /* not a numpy value: counted when it is made an array */
        }
        else {
            long long n = PyLong_AsLongLong(nbytes);
            Py_DECREF(nbytes);
            if (n == -1 && PyErr_Occurred()) {
                PyErr_Clear();
            }
            else {
                r->bytes += n;
            }
        }
    }
    else if (status == 0 && !PyErr_Occurred()) {
        status = -1;  /* a failure with no exception cannot happen after the lock; be safe */
        PyErr_SetString(PyExc_RuntimeError, "tapeviz recorder: an op could not be recorded");
    }
done:
    Py_DECREF(location);
    Py_XDECREF(held_ops);
    Py_XDECREF(tapes_now);
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_XDECREF(out_id);
    Py_XDECREF(seq);
    Py_XDECREF(scope);
    Py_XDECREF(record);
    Py_XDECREF(state_dict);
    return status;
}

static PyObject *
recorder_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    OpRecorder *r = (OpRecorder *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 6 || kwnames != NULL) {
        return PyObject_Vectorcall(r->slow, args, nargsf, kwnames);
    }
    int status = record_fast(r, args);
    if (status < 0) {
        return NULL;
    }
    if (status == 0) {
        return PyObject_Vectorcall(r->slow, args, nargsf, kwnames);
    }
    if (PyList_GET_SIZE(r->records) >= r->batch || r->bytes >= r->batch_bytes) {
        return PyObject_CallNoArgs(r->drain);
    }
    Py_RETURN_NONE;
}

static int
recorder_traverse(OpRecorder *r, visitproc visit, void *arg)
{
    Py_VISIT(r->walker);
    Py_VISIT(r->recorder);
    Py_VISIT(r->records);
    Py_VISIT(r->tape_sets);
    Py_VISIT(r->paused);
    Py_VISIT(r->seq);
    Py_VISIT(r->lock);
    Py_VISIT(r->state);
    Py_VISIT(r->seen);
    Py_VISIT(r->held);
    Py_VISIT(r->slow);
    Py_VISIT(r->drain);
    Py_VISIT(r->tape_set_of);
    return 0;
}

static int
recorder_clear(OpRecorder *r)
{
    Py_CLEAR(r->walker);
    Py_CLEAR(r->recorder);
    Py_CLEAR(r->records);
    Py_CLEAR(r->tape_sets);
    Py_CLEAR(r->paused);
    Py_CLEAR(r->seq);
    Py_CLEAR(r->lock);
    Py_CLEAR(r->state);
    Py_CLEAR(r->seen);
    Py_CLEAR(r->held);
    Py_CLEAR(r->slow);
    Py_CLEAR(r->drain);
    Py_CLEAR(r->tape_set_of);
    return 0;
}

static void
recorder_dealloc(OpRecorder *r)
{
    PyObject_GC_UnTrack(r);
    recorder_clear(r);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *
recorder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"walker", "recorder", "records", "tape_sets", "paused", "seq", "lock", "state",
                            "seen", "held", "slow", "drain", "tape_set_of", "batch", "batch_bytes", NULL};
    PyObject *walker, *recorder, *records, *tape_sets, *paused, *seq, *lock, *state, *seen, *held, *slow, *drain,
             *tape_set_of;
    Py_ssize_t batch;
    long long batch_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO!O!O!OOOOOOOOnL:OpRecorder", names, &rf_WalkerType, &walker,
                                     &recorder, &PyList_Type, &records, &PyDict_Type, &tape_sets, &PySet_Type,
                                     &paused, &seq, &lock, &state, &seen, &held, &slow, &drain, &tape_set_of, &batch,
                                     &batch_bytes)) {
        return NULL;
    }
    OpRecorder *r = (OpRecorder *)type->tp_alloc(type, 0);
    if (r == NULL) {
        return NULL;
    }
    r->walker = (Walker *)Py_NewRef(walker);
    r->recorder = Py_NewRef(recorder);
    r->records = Py_NewRef(records);
    r->tape_sets = Py_NewRef(tape_sets);
    r->paused = Py_NewRef(paused);
    r->seq = Py_NewRef(seq);
    r->lock = Py_NewRef(lock);
    r->state = Py_NewRef(state);
    r->seen = Py_NewRef(seen);
    r->held = Py_NewRef(held);
    r->slow = Py_NewRef(slow);
    r->drain = Py_NewRef(drain);
    r->tape_set_of = Py_NewRef(tape_set_of);
    r->batch = batch;
    r->batch_bytes = batch_bytes;
    r->bytes = 0;
    r->vectorcall = recorder_vectorcall;
    return (PyObject *)r;
}

static PyMemberDef recorder_members[] = {
    {"bytes", T_LONGLONG, offsetof(OpRecorder, bytes), 0,
     "output bytes of the records appended here since the last drain (the drain sets it to 0)"},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(OpRecorder, vectorcall), READONLY},
    {NULL},
};

PyTypeObject rf_OpRecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tapeviz.inspection._recordfast.OpRecorder",
    .tp_doc = "The recorder's op_executed for the usual op; every other op goes to the Python method.",
    .tp_basicsize = sizeof(OpRecorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = recorder_new,
    .tp_dealloc = (destructor)recorder_dealloc,
    .tp_traverse = (traverseproc)recorder_traverse,
    .tp_clear = (inquiry)recorder_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(OpRecorder, vectorcall),
    .tp_members = recorder_members,
};
