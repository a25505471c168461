/* A batch of raw records split into the store's fields (store.Store._split_records is the reference),
   and float values summarized (store.TensorTable._flush is the reference). */
#include "recordfast.h"

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
    PyObject *made = PyObject_CallMethodOneArg(table, rf_str_code, value);
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
    interned->codes = PyObject_GetAttr(interned->table, rf_str_codes);
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
    PyObject *shape = rf_get_optional(value, rf_str_shape);
    if (shape == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *dtype = rf_get_optional(value, rf_str_dtype);
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

PyObject *
rf_split_records(PyObject *module, PyObject *args)
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
    if (interned_get(&shapes, store, rf_str_shapes) < 0 || interned_get(&dtypes, store, rf_str_dtypes) < 0
            || interned_get(&types, store, rf_str_types) < 0 || interned_get(&scopes, store, rf_str_scopes) < 0) {
        goto fail;
    }
    table = PyObject_GetAttr(store, rf_str_tensors);
    ordered = table == NULL ? NULL : PyObject_GetAttr(table, rf_str_ordered_ids);
    late = ordered == NULL ? NULL : PyObject_GetAttr(table, rf_str_late);
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
    location_by_id = PyObject_GetAttr(store, rf_str_location_by_id);
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
                PyObject *id = PyObject_GetAttr(tensor, rf_str_id);
                PyObject *value = id == NULL ? NULL : PyObject_GetAttr(tensor, rf_str_value);
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
            PyObject *codes = PyObject_CallMethodOneArg(store, rf_str_location_codes, one);
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

PyObject *
rf_summarize(PyObject *module, PyObject *values)
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
