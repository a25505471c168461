/* Walker: the user's line for a frame, from the caches recorder._walk fills. */
#include "recordfast.h"

/* The Location of the first user frame at or above ``frame`` (a new reference), or NULL with no error
   set when only the Python walk can answer (an unknown code object or call site, a backward pass). */
PyObject *
rf_fast_walk(Walker *w, PyFrameObject *frame)
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
        PyObject *location = rf_fast_walk(w, (PyFrameObject *)args[0]);
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

PyTypeObject rf_WalkerType = {
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
