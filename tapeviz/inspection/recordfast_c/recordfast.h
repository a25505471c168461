/* Shared by the recorder's C path (see module.c): constants, interned names, the Walker, helpers.

   recorder.py and store.py hold the same logic in Python and stay the reference.
*/
#ifndef TAPEVIZ_RECORDFAST_H
#define TAPEVIZ_RECORDFAST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <structmember.h>
#include <math.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000
#error "the recorder's C path needs CPython 3.11 or newer (PyFrame_GetLasti)"
#endif
#ifdef Py_GIL_DISABLED
#error "the recorder's C path relies on the GIL: free-threaded CPython records with the Python path"
#endif

/* The key of a call site in the shared call-site cache: id(code) | (bytecode offset << 48). The Python
   walk builds the same integer, so both paths share one dictionary. */
#define SITE_SHIFT 48
#define MAX_SITE_OFFSET ((1LL << 15) - 1)

/* A raw record's fixed fields (store.RECORD_FIELDS); (id, value) pairs of its inputs follow. */
#define FIXED 11

/* What the Python side expects (store.RECORDFAST_INTERFACE): raise it with any change of a constructor's
   arguments or a function's results, so that a build from older sources is refused, not misused. */
#define INTERFACE 4

/* Attribute and method names, interned once (module.c). */
extern PyObject *rf_str_accessed_variable, *rf_str_acquire, *rf_str_code, *rf_str_codes, *rf_str_dict,
    *rf_str_dtype, *rf_str_dtypes, *rf_str_frombytes, *rf_str_id, *rf_str_last_output, *rf_str_late,
    *rf_str_location_by_id, *rf_str_location_codes, *rf_str_name_scope, *rf_str_nbytes, *rf_str_ops,
    *rf_str_ordered_ids, *rf_str_read_found, *rf_str_reader, *rf_str_release, *rf_str_scopes, *rf_str_shape,
    *rf_str_shapes, *rf_str_tapes, *rf_str_tensors, *rf_str_types, *rf_str_value;

typedef struct {
    PyObject_HEAD
    PyObject *library_code;   /* dict: id(code) -> bool (library code is skipped) */
    PyObject *call_sites;     /* dict: site key -> Location */
    PyObject *backward_code;  /* the core's backward() code object: ops under it go to Python */
    PyObject *slow;           /* the Python walk */
    vectorcallfunc vectorcall;
} Walker;

extern PyTypeObject rf_WalkerType, rf_OpRecorderType, rf_EventRecorderType;

/* walk.c: the first user frame's Location at or above a frame (new reference), or NULL with no error
   when only the Python walk can answer. */
PyObject *rf_fast_walk(Walker *w, PyFrameObject *frame);

/* An attribute, or NULL (no error) if it is missing. */
static inline PyObject *
rf_get_optional(PyObject *object, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(object, name);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return value;
}

/* The attribute of a thread-local object read from its dict for this thread (one look-up of the
   thread's dict serves several attributes); NULL with no error if it is not set there. */
static inline PyObject *
rf_local_item(PyObject *local_dict, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(local_dict, name);
    Py_XINCREF(value);
    return value;
}

/* Is this the only thread? Then no other can hold the Recorder's lock, and taking it is skipped. */
static inline int
rf_only_thread(void)
{
    PyThreadState *me = PyThreadState_Get();
    PyThreadState *first = PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(me));
    return first == me && PyThreadState_Next(first) == NULL;
}

/* Take the recorder's lock without waiting, where another thread could hold it (records and their seq
   numbers stay in one order): 1 taken (give it back with rf_release), 2 no other thread (nothing to take),
   0 busy (the Python path waits for it), -1 error. */
static inline int
rf_acquire(PyObject *lock)
{
    if (rf_only_thread()) {
        return 2;
    }
    PyObject *got = PyObject_VectorcallMethod(rf_str_acquire, (PyObject *[]){lock, Py_False}, 2, NULL);
    if (got == NULL) {
        return -1;
    }
    int taken = got == Py_True;
    Py_DECREF(got);
    return taken;
}

/* Give back what rf_acquire took: 0, or -1 on error. */
static inline int
rf_release(PyObject *lock, int held)
{
    if (held != 1) {
        return 0;
    }
    PyObject *done = PyObject_VectorcallMethod(rf_str_release, (PyObject *[]){lock}, 1, NULL);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* batch.c: a batch of raw records split into the store's fields, and float values summarized. */
PyObject *rf_split_records(PyObject *module, PyObject *args);
PyObject *rf_summarize(PyObject *module, PyObject *values);

#endif
