#ifndef DFT_CMPI_SHIM_H
#define DFT_CMPI_SHIM_H
#include <mpi.h>
// Open MPI defines these as macros over addresses of globals; Swift imports none of them.
static inline MPI_Comm dft_MPI_COMM_WORLD(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype dft_MPI_FLOAT(void) { return MPI_FLOAT; }
static inline MPI_Datatype dft_MPI_DOUBLE(void) { return MPI_DOUBLE; }
static inline MPI_Datatype dft_MPI_INT64_T(void) { return MPI_INT64_T; }
static inline MPI_Datatype dft_MPI_BYTE(void) { return MPI_BYTE; }
static inline MPI_Op dft_MPI_SUM(void) { return MPI_SUM; }
static inline MPI_Op dft_MPI_MAX(void) { return MPI_MAX; }
static inline MPI_Op dft_MPI_MIN(void) { return MPI_MIN; }
static inline void *dft_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
static inline MPI_Request dft_MPI_REQUEST_NULL(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *dft_MPI_STATUS_IGNORE(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *dft_MPI_STATUSES_IGNORE(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Datatype dft_MPI_INT(void) { return MPI_INT; }
static inline MPI_Datatype dft_MPI_DATATYPE_NULL(void) { return MPI_DATATYPE_NULL; }
static inline MPI_Info dft_MPI_INFO_NULL(void) { return MPI_INFO_NULL; }
static inline int dft_MPI_COMM_TYPE_SHARED(void) { return MPI_COMM_TYPE_SHARED; }
static inline int dft_MPI_THREAD_FUNNELED(void) { return MPI_THREAD_FUNNELED; }
static inline int dft_MPI_MAX_ERROR_STRING(void) { return MPI_MAX_ERROR_STRING; }
static inline int dft_MPI_ANY_SOURCE(void) { return MPI_ANY_SOURCE; }
static inline MPI_Datatype dft_MPI_CHAR(void) { return MPI_CHAR; }
#endif
