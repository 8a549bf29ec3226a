#ifndef DFT_CHDF5_SHIM_H
#define DFT_CHDF5_SHIM_H
#include <hdf5.h>
// HDF5's type and property-list ids are macros over *_g globals that are valid only after
// H5open(); reading the globals from Swift 6 is also a concurrency error. These getters solve both.
static inline hid_t dft_H5T_NATIVE_FLOAT(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t dft_H5T_NATIVE_DOUBLE(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t dft_H5T_NATIVE_INT32(void) { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t dft_H5T_NATIVE_INT64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t dft_H5T_NATIVE_UINT8(void) { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t dft_H5T_C_S1(void) { H5open(); return H5T_C_S1; }
static inline hid_t dft_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t dft_H5P_DATASET_CREATE(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t dft_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned dft_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned dft_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned dft_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
#endif
