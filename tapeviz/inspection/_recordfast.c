/* The recorder's per-op path in C: finding the user's line and appending an op's raw record.

   recorder.py has the same logic in Python and stays the reference: this module only answers the
   usual case (a frame walk that meets known code objects and call sites, an op with one output, at
   most one tape, nothing paused or held) and hands every other case to the Python methods, which
   also fill the caches this module reads. An op costs about a third of the Python path: no frame
   for the observer method, no function call for the walk, no interpreted bytecode.

   Built as an optional extension (setup.py); without a compiler tapeviz records with the Python
   path alone, and `tapeviz plugins` / bench_recording.py say which path is in use. CPython 3.11+.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <structmember.h>

#if PY_VERSION_HEX < 0x030B0000
#error "the recorder's C path needs CPython 3.11 or newer (PyFrame_GetLasti)"
#endif

static PyObject *str_reader, *str_read_found, *str_ops, *str_tapes, *str_name_scope, *str_value, *str_id,
                *str_nbytes, *str_acquire, *str_release, *str_last_output;

/* The key of a call site in the shared call-site cache: id(code) | (bytecode offset << 48). The Python
   walk builds the same integer, so both paths share one dictionary. */
#define SITE_SHIFT 48
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
    PyObject *reader = get_optional(r->seen, str_reader);
    if (reader == NULL) {
        Py_DECREF(frame);
        return PyErr_Occurred() ? -1 : 0;
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
             *scope = NULL, *record = NULL, *acquired = NULL;
    held_ops = get_optional(r->held, str_ops);
    if (held_ops == NULL || !PyList_Check(held_ops) || PyList_GET_SIZE(held_ops) != 0) {
        goto done;
    }
    tapes_now = get_optional(r->state, str_tapes);
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
    if (tape_set == NULL) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    Py_INCREF(tape_set);
    PyObject *output = PyTuple_GET_ITEM(outputs, 0);
    value = get_optional(output, str_value);
    out_id = get_optional(output, str_id);
    if (value == NULL || out_id == NULL) {
        Py_DECREF(tape_set);
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    /* Records and their seq numbers stay in one order: take the Recorder's lock, or let the Python
       path wait for it. */
    PyObject *no_wait = Py_False;
    acquired = PyObject_VectorcallMethod(str_acquire, (PyObject *[]){r->lock, no_wait},
                                         2, NULL);
    if (acquired == NULL || acquired != Py_True) {
        Py_DECREF(tape_set);
        status = acquired == NULL ? -1 : 0;
        goto done;
    }
    seq = PyIter_Next(r->seq);
    scope = seq == NULL ? NULL : get_optional(r->state, str_name_scope);
    if (scope != NULL) {
        PyObject *items[12] = {op_type, inputs, Py_None, out_id, value, attrs, grad_fn, tape_set, location,
                               Py_False, seq, scope};
        record = PyTuple_New(12);
        if (record != NULL) {
            for (int i = 0; i < 12; i++) {
                PyTuple_SET_ITEM(record, i, Py_NewRef(items[i]));
            }
            if (PyList_Append(r->records, record) == 0
                    && PyObject_SetAttr(r->recorder, str_last_output, out_id) == 0) {
                status = 1;
            }
        }
    }
    Py_DECREF(tape_set);
    PyObject *released = PyObject_VectorcallMethod(str_release, (PyObject *[]){r->lock},
                                                   1, NULL);
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
                            "seen", "held", "slow", "drain", "batch", "batch_bytes", NULL};
    PyObject *walker, *recorder, *records, *tape_sets, *paused, *seq, *lock, *state, *seen, *held, *slow, *drain;
    Py_ssize_t batch;
    long long batch_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO!O!O!OOOOOOOnL:OpRecorder", names, &WalkerType, &walker,
                                     &recorder, &PyList_Type, &records, &PyDict_Type, &tape_sets, &PySet_Type,
                                     &paused, &seq, &lock, &state, &seen, &held, &slow, &drain, &batch,
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

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tapeviz.inspection._recordfast",
    .m_doc = "The recorder's per-op path in C (recorder.py holds the same logic in Python).",
    .m_size = -1,
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
#undef INTERN
    if (PyType_Ready(&WalkerType) < 0 || PyType_Ready(&OpRecorderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0
            || PyModule_AddObjectRef(m, "OpRecorder", (PyObject *)&OpRecorderType) < 0
            || PyModule_AddIntConstant(m, "SITE_SHIFT", SITE_SHIFT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
