/* tapeviz.inspection._recordfast: the recorder's per-op path in C. Finding the user's line (walk.c),
   appending an op's raw record (ops.c) and an event's numbers (events.c), splitting a batch of raw
   records into the store's fields and summarizing float values (batch.c).

   recorder.py has the same logic in Python and stays the reference: this module only answers the
   usual case (a frame walk that meets known code objects and call sites, an op with one output, at
   most one tape, nothing paused or held) and hands every other case to the Python methods, which
   also fill the caches this module reads. An op costs about a third of the Python path: no frame
   for the observer method, no function call for the walk, no interpreted bytecode.

   Built as an optional extension (setup.py); without a compiler tapeviz records with the Python
   path alone, and `tapeviz --version` and bench_recording.py say which path is in use. CPython 3.11+.
*/
#include "recordfast.h"

/* The names declared in recordfast.h. */
PyObject *rf_str_accessed_variable, *rf_str_acquire, *rf_str_code, *rf_str_codes, *rf_str_dict,
    *rf_str_dtype, *rf_str_dtypes, *rf_str_frombytes, *rf_str_id, *rf_str_last_output, *rf_str_late,
    *rf_str_location_by_id, *rf_str_location_codes, *rf_str_name_scope, *rf_str_nbytes, *rf_str_ops,
    *rf_str_ordered_ids, *rf_str_read_found, *rf_str_reader, *rf_str_release, *rf_str_scopes, *rf_str_shape,
    *rf_str_shapes, *rf_str_tapes, *rf_str_tensors, *rf_str_types, *rf_str_value;

static PyMethodDef module_functions[] = {
    {"split_records", rf_split_records, METH_VARARGS,
     "split_records(records, store): the fields Store._split_records gives, or None for a value that is not numpy's."},
    {"summarize", rf_summarize, METH_O,
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
    INTERN(rf_str_reader, "reader");
    INTERN(rf_str_read_found, "read_found");
    INTERN(rf_str_ops, "ops");
    INTERN(rf_str_tapes, "tapes");
    INTERN(rf_str_name_scope, "name_scope");
    INTERN(rf_str_value, "_value");
    INTERN(rf_str_id, "_id");
    INTERN(rf_str_nbytes, "nbytes");
    INTERN(rf_str_acquire, "acquire");
    INTERN(rf_str_release, "release");
    INTERN(rf_str_last_output, "_last_output");
    INTERN(rf_str_dict, "__dict__");
    INTERN(rf_str_frombytes, "frombytes");
    INTERN(rf_str_accessed_variable, "accessed variable");
    INTERN(rf_str_codes, "codes");
    INTERN(rf_str_tensors, "tensors");
    INTERN(rf_str_ordered_ids, "ordered_ids");
    INTERN(rf_str_late, "late");
    INTERN(rf_str_code, "code");
    INTERN(rf_str_location_by_id, "_location_by_id");
    INTERN(rf_str_location_codes, "location_codes");
    INTERN(rf_str_shape, "shape");
    INTERN(rf_str_dtype, "dtype");
    INTERN(rf_str_shapes, "shapes");
    INTERN(rf_str_dtypes, "dtypes");
    INTERN(rf_str_types, "types");
    INTERN(rf_str_scopes, "scopes");
#undef INTERN
    if (PyType_Ready(&rf_WalkerType) < 0 || PyType_Ready(&rf_OpRecorderType) < 0 || PyType_Ready(&rf_EventRecorderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&rf_WalkerType) < 0
            || PyModule_AddObjectRef(m, "OpRecorder", (PyObject *)&rf_OpRecorderType) < 0
            || PyModule_AddObjectRef(m, "EventRecorder", (PyObject *)&rf_EventRecorderType) < 0
            || PyModule_AddIntConstant(m, "SITE_SHIFT", SITE_SHIFT) < 0
            || PyModule_AddIntConstant(m, "FIXED", FIXED) < 0
            || PyModule_AddIntConstant(m, "INTERFACE", INTERFACE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
