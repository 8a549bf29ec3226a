import Foundation

/// How many OpenBLAS threads a rank runs, and whether the CPUs it may use allow that.
///
/// Order: `--threads`, else SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else the node's cores
/// divided by the ranks on the node. mpirun binds each rank to one core by default, which
/// silently caps OpenBLAS at one useful thread: when fewer CPUs are allowed than threads
/// chosen, the threads are cut to the allowed CPUs and a warning says how to launch instead.
public struct ThreadPolicy: Equatable, Sendable {
    public let threads: Int
    public let source: String
    public let warning: String?

    public static func resolve(requested: Int, environment: [String: String], nodeCores: Int,
                               ranksOnNode: Int, allowedCPUs: Int?) -> ThreadPolicy {
        var threads: Int
        var source: String
        if requested > 0 {
            (threads, source) = (requested, "--threads")
        } else if let v = environment["SLURM_CPUS_PER_TASK"].flatMap(Int.init), v > 0 {
            (threads, source) = (v, "SLURM_CPUS_PER_TASK")
        } else if let v = environment["OMP_NUM_THREADS"].flatMap(Int.init), v > 0 {
            (threads, source) = (v, "OMP_NUM_THREADS")
        } else {
            (threads, source) = (max(1, nodeCores / max(1, ranksOnNode)),
                                 "\(nodeCores) cores / \(ranksOnNode) rank\(ranksOnNode == 1 ? "" : "s") on the node")
        }
        var warning: String?
        if let allowed = allowedCPUs, allowed < threads {
            warning = "this rank may only run on \(allowed) CPU\(allowed == 1 ? "" : "s") (process binding) "
                + "but \(threads) OpenBLAS threads were chosen (\(source)); using \(allowed). "
                + "Launch with `mpirun --bind-to none` or `mpirun --map-by slot:PE=\(threads)` "
                + "(Slurm: `srun --cpus-per-task=\(threads)`) to give each rank its cores."
            threads = allowed
            source += ", cut to the CPUs allowed"
        }
        return ThreadPolicy(threads: threads, source: source, warning: warning)
    }

    /// The policy for this process: its environment, the machine's cores, the ranks on this
    /// node and the CPUs it is bound to.
    public static func forThisProcess(requested: Int, ranksOnNode: Int) -> ThreadPolicy {
        resolve(requested: requested, environment: ProcessInfo.processInfo.environment,
                nodeCores: ProcessInfo.processInfo.activeProcessorCount, ranksOnNode: ranksOnNode,
                allowedCPUs: allowedCPUs())
    }

    /// CPUs this process may run on (Linux: Cpus_allowed_list of /proc/self/status).
    public static func allowedCPUs() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return cpuCount(list: line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
    }

    /// Counts a kernel CPU list such as "0-3,8,10-11".
    public static func cpuCount(list: String) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: guard bounds[0] != nil else { return nil }; total += 1
            case 2:
                guard let a = bounds[0], let b = bounds[1], b >= a else { return nil }
                total += b - a + 1
            default: return nil
            }
        }
        return total > 0 ? total : nil
    }
}
