// oneDNN's C API (Debian's libdnnl-dev 2.6; no pkg-config file, so the library is linked by
// name in module.modulemap).
#include <dnnl.h>
