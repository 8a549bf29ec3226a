#ifndef DFT_COPENBLAS_SHIM_H
#define DFT_COPENBLAS_SHIM_H
#include <cblas.h>
// Declared by OpenBLAS's cblas.h but not always visible through the module.
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
#endif
