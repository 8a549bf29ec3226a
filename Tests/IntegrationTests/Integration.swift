import Testing

/// The parent of every integration suite, which runs them one at a time: each test starts MPI
/// jobs that use both cores, and the timing checks must not see another job's load.
@Suite("dft-mpi binary under mpirun", .serialized)
struct Integration {}
