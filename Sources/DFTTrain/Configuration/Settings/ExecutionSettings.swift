import DFTCore
import DFTModel
import DFTRuntime

/// How a step runs on the machine: threads per rank, optimizer-state sharding, activation
/// recomputation, gradient buckets, the products' precision.
public struct ExecutionSettings: SettingsGroup {
    /// OpenBLAS threads per rank; 0 means SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, or the
    /// node's cores divided by its ranks (see `ThreadPolicy`).
    public var threads = 0
    /// Seconds a collective may take before the job ends (the communication watchdog); 0
    /// waits forever.
    public var commTimeout = CommunicationTimeout.defaultSeconds
    /// 1 shards AdamW's moments across ranks (ZeRO stage 1).
    public var zero = 0
    /// What the backward pass recomputes instead of keeping: none, selective (attention
    /// probabilities) or full (everything but each layer's input); see `Recompute`.
    public var recompute = Recompute.none
    /// Size of a gradient allreduce bucket, in MB (10^6 bytes).
    public var bucketMb = 25.0
    /// What the matrix products compute in: fp32, bf16 (oneDNN, CPUs with native bf16; fp32
    /// master weights, gradients, optimizer state and allreduce) or auto.
    public var precision = Precision.fp32

    public init() {}

    public func validate() throws {
        try require(threads >= 0, "threads", "non-negative (0 picks from Slurm, OMP_NUM_THREADS or the cores), got \(threads)")
        try require(commTimeout >= 0 && commTimeout.isFinite, "comm_timeout",
                    "seconds, non-negative (0 waits forever), got \(commTimeout)")
        try require(zero == 0 || zero == 1, "zero", "0 (plain data parallelism) or 1 (sharded optimizer state), got \(zero)")
        try require(bucketMb > 0, "bucket_mb", "positive, got \(bucketMb)")
    }
}
