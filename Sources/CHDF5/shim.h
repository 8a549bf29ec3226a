#ifndef DFT_CHDF5_SHIM_H
#define DFT_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// HDF5's type and property-list ids are macros over *_g globals that are valid only after
// H5open(); reading the globals from Swift 6 is also a concurrency error. These getters solve both.
static inline hid_t dft_H5T_NATIVE_FLOAT(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t dft_H5T_NATIVE_DOUBLE(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t dft_H5T_NATIVE_INT32(void) { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t dft_H5T_NATIVE_INT64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t dft_H5T_NATIVE_UINT8(void) { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t dft_H5T_IEEE_F32LE(void) { H5open(); return H5T_IEEE_F32LE; }
static inline hid_t dft_H5T_IEEE_F64LE(void) { H5open(); return H5T_IEEE_F64LE; }
static inline hid_t dft_H5T_STD_I64LE(void) { H5open(); return H5T_STD_I64LE; }
static inline hid_t dft_H5T_STD_I32LE(void) { H5open(); return H5T_STD_I32LE; }
static inline hid_t dft_H5T_STD_U8LE(void) { H5open(); return H5T_STD_U8LE; }
static inline hid_t dft_H5T_C_S1(void) { H5open(); return H5T_C_S1; }
static inline hid_t dft_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t dft_H5P_DATASET_CREATE(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t dft_H5P_FILE_ACCESS(void) { H5open(); return H5P_FILE_ACCESS; }
static inline hid_t dft_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t dft_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline unsigned dft_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned dft_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned dft_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned dft_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned dft_H5F_ACC_SWMR_WRITE(void) { return H5F_ACC_SWMR_WRITE; }
static inline unsigned dft_H5F_ACC_SWMR_READ(void) { return H5F_ACC_SWMR_READ; }

// Errors: HDF5's own printing is switched off and the stack is read into a message instead.
static inline void dft_h5_silence_errors(void) { H5open(); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static inline herr_t dft_h5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    char *buf = (char *)data;
    size_t len = strlen(buf);
    if (len + 2 < 1024) {
        snprintf(buf + len, 1024 - len, "%s%s [%s]", len ? "; " : "",
                 err->desc ? err->desc : "?", err->func_name ? err->func_name : "?");
    }
    return 0;
}

/// Writes the current error stack, innermost first, into buf (1024 bytes) and clears it.
static inline void dft_h5_take_error(char *buf) {
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, dft_h5_error_walker, buf);
    H5Eclear2(H5E_DEFAULT);
}

/// A variable-length UTF-8 string type (h5py reads it as str); close with H5Tclose.
static inline hid_t dft_h5_utf8_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static inline herr_t dft_h5_write_string_attribute(hid_t obj, const char *name, const char *value) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t type = dft_h5_utf8_string_type();
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t status = attr < 0 ? -1 : H5Awrite(attr, type, &value);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return status;
}

/// A malloc'd copy of a scalar string attribute (variable or fixed length), or NULL.
static inline char *dft_h5_read_string_attribute(hid_t obj, const char *name) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) return NULL;
    hid_t stored = H5Aget_type(attr);
    char *result = NULL;
    if (H5Tget_class(stored) == H5T_STRING) {
        if (H5Tis_variable_str(stored) > 0) {
            hid_t type = dft_h5_utf8_string_type();
            char *value = NULL;
            if (H5Aread(attr, type, &value) >= 0 && value) {
                result = strdup(value);
                H5free_memory(value);
            }
            H5Tclose(type);
        } else {
            size_t size = H5Tget_size(stored);
            result = (char *)calloc(size + 1, 1);
            if (H5Aread(attr, stored, result) < 0) { free(result); result = NULL; }
        }
    }
    H5Tclose(stored);
    H5Aclose(attr);
    return result;
}
#endif
