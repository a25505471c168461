/* The recorder's per-op path in C: finding the user's line, appending an op's raw record, and
   splitting a batch of raw records into the store's fields.

   recorder.py has the same logic in Python and stays the reference: this module only answers the
   usual case (a frame walk that meets known code objects and call sites, an op with one output, at
   most one tape, nothing paused or held) and hands every other case to the Python methods, which
   also fill the caches this module reads. An op costs about a third of the Python path: no frame
   for the observer method, no function call for the walk, no interpreted bytecode.

   Built as an optional extension (setup.py); without a compiler tapeviz records with the Python
   path alone, and `tapeviz --version` and bench_recording.py say which path is in use. CPython 3.11+.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <structmember.h>
#include <math.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000
#error "the recorder's C path needs CPython 3.11 or newer (PyFrame_GetLasti)"
#endif

static PyObject *str_reader, *str_read_found, *str_ops, *str_tapes, *str_name_scope, *str_value, *str_id,
                *str_nbytes, *str_acquire, *str_release, *str_last_output, *str_dict;

/* The key of a call site in the shared call-site cache: id(code) | (bytecode offset << 48). The Python
   walk builds the same integer, so both paths share one dictionary. */
#define SITE_SHIFT 48

/* A raw record's fixed fields (store.RECORD_FIELDS); (id, value) pairs of its inputs follow. */
#define FIXED 11
#define MAX_SITE_OFFSET ((1LL << 15) - 1)

/* ------------------------------------------------------------------------------------------------ */
/* Walker: walk(frame) -> (Location, backward) like recorder._walk; unknown cases go to the Python walk. */

typedef struct {
    PyObject_HEAD
    PyObject *library_code;   /* dict: id(code) -> bool (library code is skipped) */
    PyObject *call_sites;     /* dict: site key -> Location */
    PyObject *backward_code;  /* the core's backward() code object: ops under it go to Python */
    PyObject *slow;           /* the Python walk */
    vectorcallfunc vectorcall;
} Walker;

/* The Location of the first user frame at or above ``frame`` (a new reference), or NULL with no error
   set when only the Python walk can answer (an unknown code object or call site, a backward pass). */
static PyObject *
fast_walk(Walker *w, PyFrameObject *frame)
{
    Py_INCREF(frame);
    PyFrameObject *current = frame;
    while (current != NULL) {
        PyCodeObject *code = PyFrame_GetCode(current);
        PyObject *key = PyLong_FromVoidPtr(code);
        if (key == NULL) {
            Py_DECREF(code);
            Py_DECREF(current);
            return NULL;
        }
        PyObject *library = PyDict_GetItemWithError(w->library_code, key);
        Py_DECREF(key);
        if (library == NULL || (PyObject *)code == w->backward_code) {
            Py_DECREF(code);
            Py_DECREF(current);
            return NULL;
        }
        if (library == Py_False) {
            int offset = PyFrame_GetLasti(current);
            uintptr_t address = (uintptr_t)code;
            Py_DECREF(code);
            Py_DECREF(current);
            if (offset < 0 || offset > MAX_SITE_OFFSET || address >> SITE_SHIFT) {
                return NULL;
            }
            PyObject *site = PyLong_FromUnsignedLongLong(
                (unsigned long long)address | ((unsigned long long)offset << SITE_SHIFT));
            if (site == NULL) {
                return NULL;
            }
            PyObject *location = PyDict_GetItemWithError(w->call_sites, site);
            Py_DECREF(site);
            Py_XINCREF(location);
            return location;
        }
        Py_DECREF(code);
        PyFrameObject *back = PyFrame_GetBack(current);
        Py_DECREF(current);
        current = back;
    }
    return NULL;
}

static PyObject *
walker_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Walker *w = (Walker *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs == 1 && kwnames == NULL && PyFrame_Check(args[0])) {
        PyObject *location = fast_walk(w, (PyFrameObject *)args[0]);
        if (location != NULL) {
            PyObject *found = PyTuple_Pack(2, location, Py_False);
            Py_DECREF(location);
            return found;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return PyObject_Vectorcall(w->slow, args, nargsf, kwnames);
}

static int
walker_traverse(Walker *w, visitproc visit, void *arg)
{
    Py_VISIT(w->library_code);
    Py_VISIT(w->call_sites);
    Py_VISIT(w->backward_code);
    Py_VISIT(w->slow);
    return 0;
}

static int
walker_clear(Walker *w)
{
    Py_CLEAR(w->library_code);
    Py_CLEAR(w->call_sites);
    Py_CLEAR(w->backward_code);
    Py_CLEAR(w->slow);
    return 0;
}

static void
walker_dealloc(Walker *w)
{
    PyObject_GC_UnTrack(w);
    walker_clear(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyObject *
walker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *library_code, *call_sites, *backward_code, *slow;
    if (!PyArg_ParseTuple(args, "O!O!OO:Walker", &PyDict_Type, &library_code, &PyDict_Type, &call_sites,
                          &backward_code, &slow)) {
        return NULL;
    }
    Walker *w = (Walker *)type->tp_alloc(type, 0);
    if (w == NULL) {
        return NULL;
    }
    w->library_code = Py_NewRef(library_code);
    w->call_sites = Py_NewRef(call_sites);
    w->backward_code = Py_NewRef(backward_code);
    w->slow = Py_NewRef(slow);
    w->vectorcall = walker_vectorcall;
    return (PyObject *)w;
}

static PyMemberDef walker_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(Walker, vectorcall), READONLY},
    {NULL},
};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tapeviz.inspection._recordfast.Walker",
    .tp_doc = "Walker(library_code, call_sites, backward_code, slow_walk): walk(frame) -> (Location, backward).",
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = walker_new,
    .tp_dealloc = (destructor)walker_dealloc,
    .tp_traverse = (traverseproc)walker_traverse,
    .tp_clear = (inquiry)walker_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Walker, vectorcall),
    .tp_members = walker_members,
};

/* ------------------------------------------------------------------------------------------------ */
/* OpRecorder: the recorder's op_executed(op_type, inputs, outputs, attrs, grad_fn, recorded_on). */

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

/* The attribute of a thread-local object, or NULL (no error) if it is missing. */
static PyObject *
get_optional(PyObject *object, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(object, name);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return value;
}

/* The attribute of a thread-local object read from its dict for this thread (one look-up of the
   thread's dict serves several attributes); NULL with no error if it is not set there. */
static PyObject *
local_item(PyObject *local_dict, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(local_dict, name);
    Py_XINCREF(value);
    return value;
}

/* Is this the only thread? Then no other can hold the Recorder's lock, and taking it is skipped. */
static int
only_thread(void)
{
    PyThreadState *me = PyThreadState_Get();
    PyThreadState *first = PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(me));
    return first == me && PyThreadState_Next(first) == NULL;
}

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
    PyObject *seen_dict = PyObject_GetAttr(r->seen, str_dict);
    if (seen_dict == NULL || !PyDict_Check(seen_dict)) {
        Py_XDECREF(seen_dict);
        Py_DECREF(frame);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *reader = local_item(seen_dict, str_reader);
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
        PyObject *found = get_optional(r->seen, str_read_found);
        if (found == NULL || !PyTuple_Check(found) || PyTuple_GET_SIZE(found) != 2
                || PyTuple_GET_ITEM(found, 1) != Py_False) {
            Py_XDECREF(found);
            Py_DECREF(reader);
            Py_DECREF(frame);
            return PyErr_Occurred() ? -1 : 0;
        }
        location = Py_NewRef(PyTuple_GET_ITEM(found, 0));
        Py_DECREF(found);
        if (PyObject_SetAttr(r->seen, str_reader, Py_None) < 0
                || PyObject_SetAttr(r->seen, str_read_found, Py_None) < 0) {
            Py_DECREF(location);
            Py_DECREF(reader);
            Py_DECREF(frame);
            return -1;
        }
    }
    else {
        location = fast_walk(r->walker, frame);
    }
    Py_DECREF(reader);
    Py_DECREF(frame);
    if (location == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = 0;
    PyObject *held_ops = NULL, *tapes_now = NULL, *key = NULL, *value = NULL, *out_id = NULL, *seq = NULL,
             *scope = NULL, *record = NULL, *acquired = NULL, *state_dict = NULL;
    held_ops = get_optional(r->held, str_ops);
    if (held_ops == NULL || !PyList_Check(held_ops) || PyList_GET_SIZE(held_ops) != 0) {
        goto done;
    }
    state_dict = PyObject_GetAttr(r->state, str_dict);
    if (state_dict == NULL || !PyDict_Check(state_dict)) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    tapes_now = local_item(state_dict, str_tapes);
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
    value = get_optional(output, str_value);
    out_id = get_optional(output, str_id);
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
        PyObject *id = get_optional(tensor, str_id);
        PyObject *input_value = id == NULL ? NULL : get_optional(tensor, str_value);
        if (input_value == NULL) {
            Py_XDECREF(id);
            Py_DECREF(tape_set);
            status = PyErr_Occurred() ? -1 : 0;
            goto done;  /* the unfinished record is freed there (its empty slots are NULL) */
        }
        PyTuple_SET_ITEM(record, FIXED + 2 * i, id);
        PyTuple_SET_ITEM(record, FIXED + 2 * i + 1, input_value);
    }
    /* Records and their seq numbers stay in one order: take the Recorder's lock, or let the Python
       path wait for it. */
    PyObject *no_wait = Py_False;
    int locking = !only_thread();
    acquired = locking ? PyObject_VectorcallMethod(str_acquire, (PyObject *[]){r->lock, no_wait}, 2, NULL)
                       : Py_NewRef(Py_True);
    if (acquired == NULL || acquired != Py_True) {
        Py_DECREF(tape_set);
        status = acquired == NULL ? -1 : 0;
        goto done;
    }
    seq = PyIter_Next(r->seq);
    scope = seq == NULL ? NULL : local_item(state_dict, str_name_scope);
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
                    && PyObject_SetAttr(r->recorder, str_last_output, out_id) == 0) {
                status = 1;
            }
        }
    }
    Py_DECREF(tape_set);
    PyObject *released = locking ? PyObject_VectorcallMethod(str_release, (PyObject *[]){r->lock}, 1, NULL)
                                 : Py_NewRef(Py_None);
    if (released == NULL) {
        status = -1;
    }
    Py_XDECREF(released);
    if (status == 1) {
        PyObject *nbytes = PyObject_GetAttr(value, str_nbytes);
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
    Py_XDECREF(acquired);
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
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO!O!O!OOOOOOOOnL:OpRecorder", names, &WalkerType, &walker,
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

static PyTypeObject OpRecorderType = {
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

/* ------------------------------------------------------------------------------------------------ */
/* EventRecorder: the recorder's watched(tape, item, how) and variable_assigned(variable, value, method)
   for the usual case: a known line, tape, kind and variable. An event is seven numbers appended to
   the recorder's _event_cells (recorder.EVENT_FIELDS); every other case goes to the Python method. */

enum { WATCHED = 0, ASSIGNED = 1 };

typedef struct {
    PyObject_HEAD
    Walker *walker;
    PyObject *recorder;        /* its _last_output: an assignment of the op just recorded sights nothing */
    PyObject *sighted;         /* set: ids of variables sighted already */
    PyObject *tape_ids;        /* dict: id(tape) -> tape id */
    PyObject *event_kinds;     /* dict: kind -> its code */
    PyObject *location_by_id;  /* the store's dict: id(Location) -> its code */
    PyObject *cells;           /* the recorder's array('q') of event numbers */
    PyObject *seq, *lock, *state, *seen, *slow;
    int mode;
    vectorcallfunc vectorcall;
} EventRecorder;

static PyObject *str_frombytes, *str_accessed_variable;

/* The code a dict gives ``key`` (by object identity when ``by_id``), or -2 if it has none (no error). */
static long long
code_in(PyObject *dict, PyObject *key, int by_id)
{
    PyObject *lookup = by_id ? PyLong_FromVoidPtr(key) : Py_NewRef(key);
    if (lookup == NULL) {
        return -3;
    }
    PyObject *found = PyDict_GetItemWithError(dict, lookup);
    Py_DECREF(lookup);
    if (found == NULL) {
        return PyErr_Occurred() ? -3 : -2;
    }
    long long code = PyLong_AsLongLong(found);
    return code == -1 && PyErr_Occurred() ? -3 : code;
}

/* 1: the event is recorded; 0: the Python method must take it (nothing changed but a read's note,
   which it makes again); -1: error. */
static int
event_fast(EventRecorder *e, PyObject *const *args)
{
    PyFrameObject *notifying = PyEval_GetFrame();  /* context.notify's frame */
    PyFrameObject *frame = notifying == NULL ? NULL : PyFrame_GetBack(notifying);
    if (frame == NULL) {
        return 0;
    }
    PyObject *location = fast_walk(e->walker, frame);
    if (location == NULL) {
        Py_DECREF(frame);
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = 0;
    PyObject *variable = args[e->mode == WATCHED ? 1 : 0], *how = args[2], *variable_id = NULL, *source = NULL,
             *scope = NULL, *state_dict = NULL, *acquired = NULL, *seq = NULL, *cells = NULL;
    long long tape = -1, kind, where, source_id = -1;
    if (e->mode == WATCHED && PyUnicode_Check(how) && PyUnicode_Compare(how, str_accessed_variable) == 0) {
        /* The read that accessed the variable records its ReadVariableOp next: that op takes this line. */
        PyFrameObject *reader = PyFrame_GetBack(frame);
        PyObject *found = PyTuple_Pack(2, location, Py_False);
        int failed = found == NULL || PyObject_SetAttr(e->seen, str_reader, reader ? (PyObject *)reader : Py_None) < 0
                     || PyObject_SetAttr(e->seen, str_read_found, found) < 0;
        Py_XDECREF(reader);
        Py_XDECREF(found);
        if (failed) {
            status = -1;
            goto done;
        }
    }
    variable_id = get_optional(variable, str_id);
    if (variable_id == NULL) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    int sighted = PySet_Contains(e->sighted, variable_id);
    if (sighted <= 0) {
        status = sighted;  /* a variable met for the first time: the Python method sights it */
        goto done;
    }
    if (e->mode == WATCHED) {
        tape = code_in(e->tape_ids, args[0], 1);
        if (tape < -1) {
            status = tape == -3 ? -1 : 0;
            goto done;
        }
    }
    else {
        /* An assignment: its value is most often the output of the op just recorded (lr * grad). */
        source = get_optional(args[1], str_id);
        if (source == NULL && PyErr_Occurred()) {
            status = -1;
            goto done;
        }
        PyObject *last = get_optional(e->recorder, str_last_output);
        int is_last = source != NULL && last != NULL && PyObject_RichCompareBool(source, last, Py_EQ) == 1;
        Py_XDECREF(last);
        if (PyErr_Occurred()) {
            status = -1;
            goto done;
        }
        if (source != NULL && !is_last) {
            goto done;  /* a value met outside the last op: the Python method sights it */
        }
        if (source != NULL) {
            source_id = PyLong_AsLongLong(source);
            if (source_id == -1 && PyErr_Occurred()) {
                status = -1;
                goto done;
            }
        }
        state_dict = PyObject_GetAttr(e->state, str_dict);
        scope = state_dict == NULL ? NULL : local_item(state_dict, str_name_scope);
        if (scope == NULL || !PyUnicode_Check(scope) || PyUnicode_GET_LENGTH(scope) != 0) {
            status = PyErr_Occurred() ? -1 : 0;  /* in a name scope (an optimizer's): the Python method */
            goto done;
        }
    }
    kind = code_in(e->event_kinds, how, 0);
    where = kind < -1 ? kind : code_in(e->location_by_id, location, 1);
    if (kind < -1 || where < -1) {
        status = (kind == -3 || where == -3) ? -1 : 0;
        goto done;
    }
    long long id = PyLong_AsLongLong(variable_id);
    if (id == -1 && PyErr_Occurred()) {
        status = -1;
        goto done;
    }
    int locking = !only_thread();
    acquired = locking ? PyObject_VectorcallMethod(str_acquire, (PyObject *[]){e->lock, Py_False}, 2, NULL)
                       : Py_NewRef(Py_True);
    if (acquired != Py_True) {
        status = acquired == NULL ? -1 : 0;
        goto done;
    }
    seq = PyIter_Next(e->seq);
    long long number = seq == NULL ? -1 : PyLong_AsLongLong(seq);
    if (!PyErr_Occurred()) {
        long long event[7] = {number, kind, tape, id, where, source_id, -1};
        cells = PyBytes_FromStringAndSize((const char *)event, sizeof(event));
        PyObject *done_call = cells == NULL ? NULL : PyObject_CallMethodOneArg(e->cells, str_frombytes, cells);
        status = done_call == NULL ? -1 : 1;
        Py_XDECREF(done_call);
    }
    else {
        status = -1;
    }
    if (locking) {
        PyObject *released = PyObject_VectorcallMethod(str_release, (PyObject *[]){e->lock}, 1, NULL);
        if (released == NULL) {
            status = -1;
        }
        Py_XDECREF(released);
    }
done:
    Py_DECREF(location);
    Py_DECREF(frame);
    Py_XDECREF(variable_id);
    Py_XDECREF(source);
    Py_XDECREF(scope);
    Py_XDECREF(state_dict);
    Py_XDECREF(acquired);
    Py_XDECREF(seq);
    Py_XDECREF(cells);
    return status;
}

static PyObject *
event_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    EventRecorder *e = (EventRecorder *)self;
    if (PyVectorcall_NARGS(nargsf) == 3 && kwnames == NULL) {
        int status = event_fast(e, args);
        if (status < 0) {
            return NULL;
        }
        if (status == 1) {
            Py_RETURN_NONE;
        }
    }
    return PyObject_Vectorcall(e->slow, args, nargsf, kwnames);
}

static int
event_traverse(EventRecorder *e, visitproc visit, void *arg)
{
    Py_VISIT(e->walker);
    Py_VISIT(e->recorder);
    Py_VISIT(e->sighted);
    Py_VISIT(e->tape_ids);
    Py_VISIT(e->event_kinds);
    Py_VISIT(e->location_by_id);
    Py_VISIT(e->cells);
    Py_VISIT(e->seq);
    Py_VISIT(e->lock);
    Py_VISIT(e->state);
    Py_VISIT(e->seen);
    Py_VISIT(e->slow);
    return 0;
}

static int
event_clear(EventRecorder *e)
{
    Py_CLEAR(e->walker);
    Py_CLEAR(e->recorder);
    Py_CLEAR(e->sighted);
    Py_CLEAR(e->tape_ids);
    Py_CLEAR(e->event_kinds);
    Py_CLEAR(e->location_by_id);
    Py_CLEAR(e->cells);
    Py_CLEAR(e->seq);
    Py_CLEAR(e->lock);
    Py_CLEAR(e->state);
    Py_CLEAR(e->seen);
    Py_CLEAR(e->slow);
    return 0;
}

static void
event_dealloc(EventRecorder *e)
{
    PyObject_GC_UnTrack(e);
    event_clear(e);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *
event_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"mode", "walker", "recorder", "sighted", "tape_ids", "event_kinds", "location_by_id",
                            "cells", "seq", "lock", "state", "seen", "slow", NULL};
    const char *mode;
    PyObject *walker, *recorder, *sighted, *tape_ids, *event_kinds, *location_by_id, *cells, *seq, *lock, *state,
             *seen, *slow;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO!OO!O!O!O!OOOOOO:EventRecorder", names, &mode, &WalkerType,
                                     &walker, &recorder, &PySet_Type, &sighted, &PyDict_Type, &tape_ids, &PyDict_Type,
                                     &event_kinds, &PyDict_Type, &location_by_id, &cells, &seq, &lock, &state, &seen,
                                     &slow)) {
        return NULL;
    }
    int which = strcmp(mode, "watched") == 0 ? WATCHED : strcmp(mode, "variable_assigned") == 0 ? ASSIGNED : -1;
    if (which < 0) {
        PyErr_SetString(PyExc_ValueError, "EventRecorder mode must be 'watched' or 'variable_assigned'");
        return NULL;
    }
    EventRecorder *e = (EventRecorder *)type->tp_alloc(type, 0);
    if (e == NULL) {
        return NULL;
    }
    e->walker = (Walker *)Py_NewRef(walker);
    e->recorder = Py_NewRef(recorder);
    e->sighted = Py_NewRef(sighted);
    e->tape_ids = Py_NewRef(tape_ids);
    e->event_kinds = Py_NewRef(event_kinds);
    e->location_by_id = Py_NewRef(location_by_id);
    e->cells = Py_NewRef(cells);
    e->seq = Py_NewRef(seq);
    e->lock = Py_NewRef(lock);
    e->state = Py_NewRef(state);
    e->seen = Py_NewRef(seen);
    e->slow = Py_NewRef(slow);
    e->mode = which;
    e->vectorcall = event_vectorcall;
    return (PyObject *)e;
}

static PyMemberDef event_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(EventRecorder, vectorcall), READONLY},
    {NULL},
};

static PyTypeObject EventRecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tapeviz.inspection._recordfast.EventRecorder",
    .tp_doc = "The recorder's watched / variable_assigned for the usual event; the rest go to the Python method.",
    .tp_basicsize = sizeof(EventRecorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = event_new,
    .tp_dealloc = (destructor)event_dealloc,
    .tp_traverse = (traverseproc)event_traverse,
    .tp_clear = (inquiry)event_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(EventRecorder, vectorcall),
    .tp_members = event_members,
};

/* ------------------------------------------------------------------------------------------------ */
/* split_records(records, store): Store._split_records in one pass (see store.py for the fields). */

static PyObject *str_tensors, *str_ordered_ids, *str_late;
static PyObject *str_codes, *str_code, *str_location_by_id, *str_location_codes, *str_shape, *str_dtype,
                *str_shapes, *str_dtypes, *str_types, *str_scopes;

/* The code of ``value`` in an Interned table: its dict, or its code() for a value not met before. */
static long
interned_code(PyObject *codes, PyObject *table, PyObject *value)
{
    PyObject *found = PyDict_GetItemWithError(codes, value);
    if (found != NULL) {
        return PyLong_AsLong(found);
    }
    if (PyErr_Occurred()) {
        return -2;
    }
    PyObject *made = PyObject_CallMethodOneArg(table, str_code, value);
    if (made == NULL) {
        return -2;
    }
    long code = PyLong_AsLong(made);
    Py_DECREF(made);
    return code;
}

typedef struct {
    PyObject *table, *codes;
} Interned;

static int
interned_get(Interned *interned, PyObject *store, PyObject *name)
{
    interned->table = PyObject_GetAttr(store, name);
    if (interned->table == NULL) {
        return -1;
    }
    interned->codes = PyObject_GetAttr(interned->table, str_codes);
    if (interned->codes == NULL || !PyDict_Check(interned->codes)) {
        Py_XDECREF(interned->codes);
        Py_CLEAR(interned->table);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "an Interned table's codes must be a dict");
        }
        return -1;
    }
    return 0;
}

static void
interned_release(Interned *interned)
{
    Py_XDECREF(interned->table);
    Py_XDECREF(interned->codes);
}

/* Append the code of ``value`` to ``list``; -1 on error. */
static int
append_code(PyObject *list, Interned *interned, PyObject *value)
{
    long code = interned_code(interned->codes, interned->table, value);
    if (code == -2 || (code == -1 && PyErr_Occurred())) {
        return -1;
    }
    PyObject *number = PyLong_FromLong(code);
    if (number == NULL) {
        return -1;
    }
    int status = PyList_Append(list, number);
    Py_DECREF(number);
    return status;
}

/* One output: its id and value appended, its shape and dtype coded. 1: done; 0: not a numpy value. */
static int
add_output(PyObject *id, PyObject *value, PyObject *out_ids, PyObject *out_values, PyObject *out_shapes,
           PyObject *out_dtypes, Interned *shapes, Interned *dtypes)
{
    PyObject *shape = get_optional(value, str_shape);
    if (shape == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *dtype = get_optional(value, str_dtype);
    if (dtype == NULL || !PyTuple_Check(shape)) {
        Py_DECREF(shape);
        Py_XDECREF(dtype);
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = ((out_ids != NULL && PyList_Append(out_ids, id) < 0) || PyList_Append(out_values, value) < 0
                  || append_code(out_shapes, shapes, shape) < 0 || append_code(out_dtypes, dtypes, dtype) < 0)
                 ? -1 : 1;
    Py_DECREF(shape);
    Py_DECREF(dtype);
    return status;
}

/* 1 if the input ``id`` has no row (not in the table's sorted ids nor in its late dict) and no earlier
   record of the batch met it; 0 if known; -1 on error. */
static int
is_new_leaf(long long id, PyObject *id_object, Py_buffer *known, PyObject *late, PyObject *met)
{
    int seen = PySet_Contains(met, id_object);
    if (seen != 0) {
        return seen < 0 ? -1 : 0;
    }
    const long long *ids = (const long long *)known->buf;
    Py_ssize_t low = 0, high = known->len / 8;
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        if (ids[middle] < id) {
            low = middle + 1;
        }
        else {
            high = middle;
        }
    }
    if (low < known->len / 8 && ids[low] == id) {
        return 0;
    }
    int in_late = PyDict_Contains(late, id_object);
    return in_late < 0 ? -1 : !in_late;
}

static PyObject *
split_records(PyObject *module, PyObject *args)
{
    PyObject *records, *store;
    if (!PyArg_ParseTuple(args, "O!O:split_records", &PyList_Type, &records, &store)) {
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(records);
    PyObject *result = NULL;
    Interned shapes = {NULL, NULL}, dtypes = {NULL, NULL}, types = {NULL, NULL}, scopes = {NULL, NULL};
    PyObject *location_by_id = NULL;
    PyObject *out_counts = PyBytes_FromStringAndSize(NULL, count * 8);
    PyObject *in_counts = PyBytes_FromStringAndSize(NULL, count * 8);
    PyObject *is_op = PyBytes_FromStringAndSize(NULL, count);
    PyObject *out_ids = PyList_New(0), *out_values = PyList_New(0), *out_shapes = PyList_New(0),
             *out_dtypes = PyList_New(0), *in_values = PyList_New(0), *tape_sets = PyList_New(0),
             *attrs = PyList_New(0), *custom = PyList_New(0);
    /* Columns of numbers, as the bytes of the store's arrays (the ops' ones are cut to the ops' count). */
    PyObject *locations = PyBytes_FromStringAndSize(NULL, count * 4), *op_types = PyBytes_FromStringAndSize(NULL, count * 4),
             *op_scopes = PyBytes_FromStringAndSize(NULL, count * 4), *backwards = PyBytes_FromStringAndSize(NULL, count),
             *seqs = PyBytes_FromStringAndSize(NULL, count * 8);
    PyObject *in_ids = NULL;
    /* New leaves: inputs that neither the table nor an earlier record of the batch has. */
    PyObject *table = NULL, *ordered = NULL, *late = NULL, *met = PySet_New(NULL), *leaf_values = PyList_New(0),
             *leaf_shapes = PyList_New(0), *leaf_dtypes = PyList_New(0), *leaf_records = NULL, *leaf_flat = NULL;
    Py_buffer known = {0};
    long long *leaf_record = NULL, *leaf_index = NULL;
    Py_ssize_t leaves = 0, leaf_capacity = 0;
    Py_ssize_t in_capacity = count * 2 + 8, in_used = 0, ops = 0;
    long long *in_buffer = NULL;
    int any_attrs = 0;
    if (out_counts == NULL || in_counts == NULL || is_op == NULL || out_ids == NULL || out_values == NULL
            || out_shapes == NULL || out_dtypes == NULL || in_values == NULL || locations == NULL
            || op_types == NULL || op_scopes == NULL || tape_sets == NULL || backwards == NULL || seqs == NULL
            || attrs == NULL || custom == NULL) {
        goto fail;
    }
    if (interned_get(&shapes, store, str_shapes) < 0 || interned_get(&dtypes, store, str_dtypes) < 0
            || interned_get(&types, store, str_types) < 0 || interned_get(&scopes, store, str_scopes) < 0) {
        goto fail;
    }
    table = PyObject_GetAttr(store, str_tensors);
    ordered = table == NULL ? NULL : PyObject_GetAttr(table, str_ordered_ids);
    late = ordered == NULL ? NULL : PyObject_GetAttr(table, str_late);
    if (late == NULL || !PyDict_Check(late) || met == NULL || leaf_values == NULL || leaf_shapes == NULL
            || leaf_dtypes == NULL || PyObject_GetBuffer(ordered, &known, PyBUF_SIMPLE) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "Store.tensors must have ordered_ids (an int64 array) and late (a dict)");
        }
        goto fail;
    }
    if (known.len % 8) {
        PyErr_SetString(PyExc_TypeError, "TensorTable.ordered_ids must be an int64 array");
        goto fail;
    }
    location_by_id = PyObject_GetAttr(store, str_location_by_id);
    if (location_by_id == NULL || !PyDict_Check(location_by_id)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "Store._location_by_id must be a dict");
        }
        goto fail;
    }
    in_buffer = PyMem_Malloc(in_capacity * sizeof(long long));
    if (in_buffer == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    long long *out_count = (long long *)PyBytes_AS_STRING(out_counts);
    int32_t *location_code = (int32_t *)PyBytes_AS_STRING(locations), *type_code = (int32_t *)PyBytes_AS_STRING(op_types),
            *scope_code = (int32_t *)PyBytes_AS_STRING(op_scopes);
    char *backward_flag = PyBytes_AS_STRING(backwards);
    long long *seq_number = (long long *)PyBytes_AS_STRING(seqs);
    long long *in_count = (long long *)PyBytes_AS_STRING(in_counts);
    char *op_flag = PyBytes_AS_STRING(is_op);
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *record = PyList_GET_ITEM(records, r);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) < FIXED || (PyTuple_GET_SIZE(record) - FIXED) % 2) {
            PyErr_SetString(PyExc_TypeError, "a raw record must be store.RECORD_FIELDS, then (id, value) pairs");
            goto fail;
        }
        PyObject *op_type = PyTuple_GET_ITEM(record, 0), *outputs = PyTuple_GET_ITEM(record, 1),
                 *one_id = PyTuple_GET_ITEM(record, 2), *one_value = PyTuple_GET_ITEM(record, 3),
                 *location = PyTuple_GET_ITEM(record, 7);
        /* Outputs. */
        if (outputs == Py_None) {
            if (one_id == Py_None) {
                out_count[r] = 0;
            }
            else {
                int added = add_output(one_id, one_value, out_ids, out_values, out_shapes, out_dtypes, &shapes,
                                       &dtypes);
                if (added <= 0) {
                    goto give_up_or_fail;
                }
                out_count[r] = 1;
            }
        }
        else {
            PyObject *outs = PySequence_Fast(outputs, "a record's outputs must be a sequence");
            if (outs == NULL) {
                goto fail;
            }
            Py_ssize_t n = PySequence_Fast_GET_SIZE(outs);
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *tensor = PySequence_Fast_GET_ITEM(outs, i);
                PyObject *id = PyObject_GetAttr(tensor, str_id);
                PyObject *value = id == NULL ? NULL : PyObject_GetAttr(tensor, str_value);
                int added = value == NULL ? -1 : add_output(id, value, out_ids, out_values, out_shapes, out_dtypes,
                                                            &shapes, &dtypes);
                Py_XDECREF(id);
                Py_XDECREF(value);
                if (added <= 0) {
                    Py_DECREF(outs);
                    goto give_up_or_fail;
                }
            }
            Py_DECREF(outs);
            out_count[r] = n;
        }
        /* Inputs: (id, value) pairs after the fixed fields. */
        Py_ssize_t n_in = (PyTuple_GET_SIZE(record) - FIXED) / 2;
        if (in_used + n_in > in_capacity) {
            in_capacity = (in_used + n_in) * 2;
            long long *grown = PyMem_Realloc(in_buffer, in_capacity * sizeof(long long));
            if (grown == NULL) {
                PyErr_NoMemory();
                goto fail;
            }
            in_buffer = grown;
        }
        for (Py_ssize_t i = 0; i < n_in; i++) {
            PyObject *id_object = PyTuple_GET_ITEM(record, FIXED + 2 * i),
                     *input_value = PyTuple_GET_ITEM(record, FIXED + 2 * i + 1);
            long long id = PyLong_AsLongLong(id_object);
            if ((id == -1 && PyErr_Occurred()) || PyList_Append(in_values, input_value) < 0) {
                goto fail;
            }
            int is_new = is_new_leaf(id, id_object, &known, late, met);
            if (is_new < 0) {
                goto fail;
            }
            if (is_new) {
                if (leaves == leaf_capacity) {
                    leaf_capacity = leaf_capacity * 2 + 64;
                    long long *records_grown = PyMem_Realloc(leaf_record, leaf_capacity * sizeof(long long));
                    if (records_grown != NULL) {
                        leaf_record = records_grown;
                    }
                    long long *index_grown = records_grown == NULL ? NULL
                        : PyMem_Realloc(leaf_index, leaf_capacity * sizeof(long long));
                    if (index_grown == NULL) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    leaf_index = index_grown;
                }
                int added = add_output(id_object, input_value, NULL, leaf_values, leaf_shapes, leaf_dtypes, &shapes,
                                       &dtypes);
                if (added <= 0 || PySet_Add(met, id_object) < 0) {
                    goto give_up_or_fail;
                }
                leaf_record[leaves] = r;
                leaf_index[leaves++] = in_used;
            }
            in_buffer[in_used++] = id;
        }
        in_count[r] = n_in;
        /* The record's outputs are known to the records after it. */
        for (Py_ssize_t k = PyList_GET_SIZE(out_ids) - out_count[r]; k < PyList_GET_SIZE(out_ids); k++) {
            if (PySet_Add(met, PyList_GET_ITEM(out_ids, k)) < 0) {
                goto fail;
            }
        }
        /* The record's line. */
        PyObject *key = PyLong_FromVoidPtr(location);
        if (key == NULL) {
            goto fail;
        }
        PyObject *code = PyDict_GetItemWithError(location_by_id, key);
        Py_DECREF(key);
        if (code != NULL) {
            location_code[r] = (int32_t)PyLong_AsLong(code);
            if (location_code[r] == -1 && PyErr_Occurred()) {
                goto fail;
            }
        }
        else {
            if (PyErr_Occurred()) {
                goto fail;
            }
            PyObject *one = PyList_New(1);
            if (one == NULL) {
                goto fail;
            }
            PyList_SET_ITEM(one, 0, Py_NewRef(location));
            PyObject *codes = PyObject_CallMethodOneArg(store, str_location_codes, one);
            Py_DECREF(one);
            if (codes == NULL) {
                goto fail;
            }
            PyObject *made = PySequence_GetItem(codes, 0);
            Py_DECREF(codes);
            if (made == NULL) {
                goto fail;
            }
            location_code[r] = (int32_t)PyLong_AsLong(made);
            Py_DECREF(made);
            if (location_code[r] == -1 && PyErr_Occurred()) {
                goto fail;
            }
        }
        /* An op's own fields (a sighting has none). */
        if (op_type == Py_None) {
            op_flag[r] = 0;
            continue;
        }
        op_flag[r] = 1;
        PyObject *op_attrs = PyTuple_GET_ITEM(record, 4);
        long type = interned_code(types.codes, types.table, op_type);
        long scope = type == -2 ? -2 : interned_code(scopes.codes, scopes.table, PyTuple_GET_ITEM(record, 10));
        long long seq = scope == -2 ? -1 : PyLong_AsLongLong(PyTuple_GET_ITEM(record, 9));
        int backward = PyObject_IsTrue(PyTuple_GET_ITEM(record, 8));
        if (type == -2 || scope == -2 || PyErr_Occurred() || backward < 0
                || PyList_Append(tape_sets, PyTuple_GET_ITEM(record, 6)) < 0 || PyList_Append(attrs, op_attrs) < 0) {
            goto fail;
        }
        type_code[ops] = (int32_t)type;
        scope_code[ops] = (int32_t)scope;
        seq_number[ops] = seq;
        backward_flag[ops] = (char)backward;
        if (!(PyDict_CheckExact(op_attrs) && PyDict_GET_SIZE(op_attrs) == 0)) {
            any_attrs = 1;
        }
        if (PyTuple_GET_ITEM(record, 5) != Py_None) {
            PyObject *index = PyLong_FromSsize_t(ops);
            if (index == NULL || PyList_Append(custom, index) < 0) {
                Py_XDECREF(index);
                goto fail;
            }
            Py_DECREF(index);
        }
        ops++;
    }
    in_ids = PyBytes_FromStringAndSize((const char *)in_buffer, in_used * sizeof(long long));
    if (in_ids == NULL) {
        goto fail;
    }
    PyObject *op_flags = ops == count ? Py_None : is_op;
    PyObject *tape_set_tuple = PyList_AsTuple(tape_sets);
    if (tape_set_tuple == NULL || _PyBytes_Resize(&op_types, ops * 4) < 0 || _PyBytes_Resize(&op_scopes, ops * 4) < 0
            || _PyBytes_Resize(&backwards, ops) < 0 || _PyBytes_Resize(&seqs, ops * 8) < 0) {
        Py_XDECREF(tape_set_tuple);
        goto fail;
    }
    PyObject *leaf_pair = Py_None;
    if (leaves) {
        leaf_records = PyBytes_FromStringAndSize((const char *)leaf_record, leaves * sizeof(long long));
        leaf_flat = PyBytes_FromStringAndSize((const char *)leaf_index, leaves * sizeof(long long));
        leaf_pair = leaf_records == NULL || leaf_flat == NULL ? NULL : PyTuple_Pack(2, leaf_records, leaf_flat);
        if (leaf_pair == NULL) {
            Py_DECREF(tape_set_tuple);
            goto fail;
        }
    }
    else {
        Py_INCREF(leaf_pair);
    }
    result = PyTuple_Pack(21, out_counts, out_ids, out_values, out_shapes, out_dtypes, in_counts, in_values, in_ids,
                          locations, op_flags, op_types, op_scopes, tape_set_tuple, backwards, seqs,
                          any_attrs ? attrs : Py_None, custom, leaf_pair, leaves ? leaf_values : Py_None,
                          leaves ? leaf_shapes : Py_None, leaves ? leaf_dtypes : Py_None);
    Py_DECREF(leaf_pair);
    Py_DECREF(tape_set_tuple);
    goto done;
give_up_or_fail:
    if (PyErr_Occurred()) {
        goto fail;
    }
    result = Py_NewRef(Py_None);  /* a value that is not numpy's: the Python split converts it */
    goto done;
fail:
    result = NULL;
done:
    if (known.obj != NULL) {
        PyBuffer_Release(&known);
    }
    PyMem_Free(leaf_record);
    PyMem_Free(leaf_index);
    Py_XDECREF(table);
    Py_XDECREF(ordered);
    Py_XDECREF(late);
    Py_XDECREF(met);
    Py_XDECREF(leaf_values);
    Py_XDECREF(leaf_shapes);
    Py_XDECREF(leaf_dtypes);
    Py_XDECREF(leaf_records);
    Py_XDECREF(leaf_flat);
    PyMem_Free(in_buffer);
    interned_release(&shapes);
    interned_release(&dtypes);
    interned_release(&types);
    interned_release(&scopes);
    Py_XDECREF(location_by_id);
    Py_XDECREF(out_counts);
    Py_XDECREF(in_counts);
    Py_XDECREF(is_op);
    Py_XDECREF(out_ids);
    Py_XDECREF(out_values);
    Py_XDECREF(out_shapes);
    Py_XDECREF(out_dtypes);
    Py_XDECREF(in_values);
    Py_XDECREF(locations);
    Py_XDECREF(op_types);
    Py_XDECREF(op_scopes);
    Py_XDECREF(tape_sets);
    Py_XDECREF(backwards);
    Py_XDECREF(seqs);
    Py_XDECREF(attrs);
    Py_XDECREF(custom);
    Py_XDECREF(in_ids);
    return result;
}

/* ------------------------------------------------------------------------------------------------ */
/* summarize(values): the statistics TensorTable._flush keeps, for float32/float64 values, one pass each
   (numpy's way, concatenating and reducing, costs a copy and five passes). Sums in double. */

#define NO_STATS (-2)  /* store._NO_STATS: an empty value has no statistics */

typedef struct {
    double low, high, mean, norm;
    long long nonfinite;
} Stats;

#define SUMMARIZE(TYPE)                                                                                  \
static void                                                                                               \
summarize_##TYPE(const TYPE *data, Py_ssize_t n, Stats *stats)                                            \
{                                                                                                         \
    TYPE low[4], high[4];                                                                                 \
    double sum[4] = {0, 0, 0, 0}, squares[4] = {0, 0, 0, 0};                                              \
    for (int j = 0; j < 4; j++) {                                                                         \
        low[j] = high[j] = data[0];                                                                       \
    }                                                                                                     \
    Py_ssize_t i = 0;                                                                                     \
    for (; i + 4 <= n; i += 4) {  /* four independent chains: the additions overlap */                   \
        for (int j = 0; j < 4; j++) {                                                                     \
            TYPE x = data[i + j];                                                                         \
            low[j] = x < low[j] ? x : low[j];                                                             \
            high[j] = x > high[j] ? x : high[j];                                                          \
            sum[j] += (double)x;                                                                          \
            squares[j] += (double)x * (double)x;                                                          \
        }                                                                                                 \
    }                                                                                                     \
    for (; i < n; i++) {                                                                                  \
        TYPE x = data[i];                                                                                 \
        low[0] = x < low[0] ? x : low[0];                                                                 \
        high[0] = x > high[0] ? x : high[0];                                                              \
        sum[0] += (double)x;                                                                              \
        squares[0] += (double)x * (double)x;                                                              \
    }                                                                                                     \
    double lowest = low[0], highest = high[0];                                                            \
    for (int j = 1; j < 4; j++) {                                                                         \
        lowest = low[j] < lowest ? low[j] : lowest;                                                       \
        highest = high[j] > highest ? high[j] : highest;                                                  \
    }                                                                                                     \
    double total = (sum[0] + sum[1]) + (sum[2] + sum[3]);                                                 \
    double total_squares = (squares[0] + squares[1]) + (squares[2] + squares[3]);                         \
    stats->nonfinite = 0;                                                                                 \
    stats->norm = sqrt(total_squares);                                                                    \
    if (!isfinite(total) || !isfinite(total_squares)) {                                                   \
        int nan = 0;                                                                                      \
        for (i = 0; i < n; i++) {                                                                         \
            if (!isfinite(data[i])) {                                                                     \
                stats->nonfinite++;                                                                       \
                nan |= isnan(data[i]) != 0;                                                               \
            }                                                                                             \
        }                                                                                                 \
        if (nan) {  /* numpy's min and max are NaN when a NaN is there */                                 \
            lowest = highest = NAN;                                                                       \
        }                                                                                                 \
        if (stats->nonfinite == 0) {  /* finite values whose squares pass double's range: scale first */ \
            double scale = fmax(fabs(lowest), fabs(highest)), scaled = 0;                                 \
            for (i = 0; i < n; i++) {                                                                     \
                double x = data[i] / scale;                                                               \
                scaled += x * x;                                                                          \
            }                                                                                             \
            stats->norm = sqrt(scaled) * scale;                                                           \
        }                                                                                                 \
    }                                                                                                     \
    stats->low = lowest;                                                                                  \
    stats->high = highest;                                                                                \
    stats->mean = total / (double)n;                                                                      \
}

SUMMARIZE(float)
SUMMARIZE(double)

static PyObject *
summarize(PyObject *module, PyObject *values)
{
    if (!PyList_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "summarize takes a list of arrays");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(values);
    PyObject *low = PyBytes_FromStringAndSize(NULL, count * 8), *high = PyBytes_FromStringAndSize(NULL, count * 8),
             *mean = PyBytes_FromStringAndSize(NULL, count * 8), *norm = PyBytes_FromStringAndSize(NULL, count * 8),
             *bad = PyBytes_FromStringAndSize(NULL, count * 8), *skipped = PyList_New(0), *result = NULL;
    if (low == NULL || high == NULL || mean == NULL || norm == NULL || bad == NULL || skipped == NULL) {
        goto done;
    }
    double *lows = (double *)PyBytes_AS_STRING(low), *highs = (double *)PyBytes_AS_STRING(high),
           *means = (double *)PyBytes_AS_STRING(mean), *norms = (double *)PyBytes_AS_STRING(norm);
    long long *bads = (long long *)PyBytes_AS_STRING(bad);
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_buffer view;
        lows[k] = highs[k] = means[k] = norms[k] = NAN;
        bads[k] = NO_STATS;
        if (PyObject_GetBuffer(PyList_GET_ITEM(values, k), &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            PyErr_Clear();  /* not contiguous (a view): numpy's way, in Python */
            goto skip;
        }
        const char *format = view.format == NULL ? "B" : view.format;
        if (format[0] == '<' || format[0] == '=' || format[0] == '@') {
            format++;
        }
        Py_ssize_t n = view.itemsize > 0 ? view.len / view.itemsize : 0;
        Stats stats;
        if (format[1] != '\0' || !((format[0] == 'f' && view.itemsize == 4) || (format[0] == 'd' && view.itemsize == 8))) {
            PyBuffer_Release(&view);
            goto skip;
        }
        if (n > 0) {
            if (format[0] == 'f') {
                summarize_float((const float *)view.buf, n, &stats);
            }
            else {
                summarize_double((const double *)view.buf, n, &stats);
            }
            lows[k] = stats.low;
            highs[k] = stats.high;
            means[k] = stats.mean;
            norms[k] = stats.norm;
            bads[k] = stats.nonfinite;
        }
        PyBuffer_Release(&view);
        continue;
    skip:;
        PyObject *index = PyLong_FromSsize_t(k);
        if (index == NULL || PyList_Append(skipped, index) < 0) {
            Py_XDECREF(index);
            goto done;
        }
        Py_DECREF(index);
    }
    result = PyTuple_Pack(6, low, high, mean, norm, bad, skipped);
done:
    Py_XDECREF(low);
    Py_XDECREF(high);
    Py_XDECREF(mean);
    Py_XDECREF(norm);
    Py_XDECREF(bad);
    Py_XDECREF(skipped);
    return result;
}

static PyMethodDef module_functions[] = {
    {"split_records", split_records, METH_VARARGS,
     "split_records(records, store): the fields Store._split_records gives, or None for a value that is not numpy's."},
    {"summarize", summarize, METH_O,
     "summarize(values): (min, max, mean, L2 norm, non-finite count) of each float32/float64 value as bytes of\n"
     "float64 (counts int64), and the indices of the values it left to numpy (not contiguous, other dtypes)."},
    {NULL},
};

/* ------------------------------------------------------------------------------------------------ */

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tapeviz.inspection._recordfast",
    .m_doc = "The recorder's per-op path in C (recorder.py holds the same logic in Python).",
    .m_size = -1,
    .m_methods = module_functions,
};

PyMODINIT_FUNC
PyInit__recordfast(void)
{
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(str_reader, "reader");
    INTERN(str_read_found, "read_found");
    INTERN(str_ops, "ops");
    INTERN(str_tapes, "tapes");
    INTERN(str_name_scope, "name_scope");
    INTERN(str_value, "_value");
    INTERN(str_id, "_id");
    INTERN(str_nbytes, "nbytes");
    INTERN(str_acquire, "acquire");
    INTERN(str_release, "release");
    INTERN(str_last_output, "_last_output");
    INTERN(str_dict, "__dict__");
    INTERN(str_frombytes, "frombytes");
    INTERN(str_accessed_variable, "accessed variable");
    INTERN(str_codes, "codes");
    INTERN(str_tensors, "tensors");
    INTERN(str_ordered_ids, "ordered_ids");
    INTERN(str_late, "late");
    INTERN(str_code, "code");
    INTERN(str_location_by_id, "_location_by_id");
    INTERN(str_location_codes, "location_codes");
    INTERN(str_shape, "shape");
    INTERN(str_dtype, "dtype");
    INTERN(str_shapes, "shapes");
    INTERN(str_dtypes, "dtypes");
    INTERN(str_types, "types");
    INTERN(str_scopes, "scopes");
#undef INTERN
    if (PyType_Ready(&WalkerType) < 0 || PyType_Ready(&OpRecorderType) < 0 || PyType_Ready(&EventRecorderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0
            || PyModule_AddObjectRef(m, "OpRecorder", (PyObject *)&OpRecorderType) < 0
            || PyModule_AddObjectRef(m, "EventRecorder", (PyObject *)&EventRecorderType) < 0
            || PyModule_AddIntConstant(m, "SITE_SHIFT", SITE_SHIFT) < 0
            || PyModule_AddIntConstant(m, "FIXED", FIXED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
