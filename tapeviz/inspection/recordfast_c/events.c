/* EventRecorder: the recorder's watched(tape, item, how) and variable_assigned(variable, value, method)
   for the usual case: a known line, tape, kind and variable. An event is seven numbers appended to
   the recorder's _event_cells (recorder.EVENT_FIELDS); every other case goes to the Python method. */
#include "recordfast.h"

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
    PyObject *location = rf_fast_walk(e->walker, frame);
    if (location == NULL) {
        Py_DECREF(frame);
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = 0;
    PyObject *variable = args[e->mode == WATCHED ? 1 : 0], *how = args[2], *variable_id = NULL, *source = NULL,
             *scope = NULL, *state_dict = NULL, *seq = NULL, *cells = NULL;
    long long tape = -1, kind, where, source_id = -1;
    if (e->mode == WATCHED && PyUnicode_Check(how) && PyUnicode_Compare(how, rf_str_accessed_variable) == 0) {
        /* The read that accessed the variable records its ReadVariableOp next: that op takes this line. */
        PyFrameObject *reader = PyFrame_GetBack(frame);
        PyObject *found = PyTuple_Pack(2, location, Py_False);
        int failed = found == NULL || PyObject_SetAttr(e->seen, rf_str_reader, reader ? (PyObject *)reader : Py_None) < 0
                     || PyObject_SetAttr(e->seen, rf_str_read_found, found) < 0;
        Py_XDECREF(reader);
        Py_XDECREF(found);
        if (failed) {
            status = -1;
            goto done;
        }
    }
    variable_id = rf_get_optional(variable, rf_str_id);
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
        source = rf_get_optional(args[1], rf_str_id);
        if (source == NULL && PyErr_Occurred()) {
            status = -1;
            goto done;
        }
        PyObject *last = rf_get_optional(e->recorder, rf_str_last_output);
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
        state_dict = PyObject_GetAttr(e->state, rf_str_dict);
        scope = state_dict == NULL ? NULL : rf_local_item(state_dict, rf_str_name_scope);
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
    int held = rf_acquire(e->lock);
    if (held <= 0) {
        status = held;
        goto done;
    }
    seq = PyIter_Next(e->seq);
    long long number = seq == NULL ? -1 : PyLong_AsLongLong(seq);
    if (!PyErr_Occurred()) {
        long long event[7] = {number, kind, tape, id, where, source_id, -1};
        cells = PyBytes_FromStringAndSize((const char *)event, sizeof(event));
        PyObject *done_call = cells == NULL ? NULL : PyObject_CallMethodOneArg(e->cells, rf_str_frombytes, cells);
        status = done_call == NULL ? -1 : 1;
        Py_XDECREF(done_call);
    }
    else {
        status = -1;
    }
    if (rf_release(e->lock, held) < 0) {
        status = -1;
    }
done:
    Py_DECREF(location);
    Py_DECREF(frame);
    Py_XDECREF(variable_id);
    Py_XDECREF(source);
    Py_XDECREF(scope);
    Py_XDECREF(state_dict);
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
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO!OO!O!O!O!OOOOOO:EventRecorder", names, &mode, &rf_WalkerType,
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

PyTypeObject rf_EventRecorderType = {
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
