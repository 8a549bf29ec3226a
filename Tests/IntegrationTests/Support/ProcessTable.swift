import Foundation

/// The processes of this machine as Linux's /proc shows them: parents, command lines and
/// MPI ranks, to signal one rank of a job and to clean up after a hung one. (mpirun puts every
/// rank in a process group of its own, so killing mpirun's group is not enough.)
enum ProcessTable {
    /// Every live process id.
    static func all() -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }
    }

    /// The parent of `pid`, from /proc/PID/stat (fields after the parenthesised command name,
    /// which may itself contain spaces and parentheses).
    static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? pid_t(fields[1]) : nil
    }

    /// The arguments `pid` was started with.
    static func commandLine(of pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `OMPI_COMM_WORLD_RANK` from the environment of `pid`, if mpirun started it.
    static func mpiRank(of pid: pid_t) -> Int? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        let prefix = "OMPI_COMM_WORLD_RANK="
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            if text.hasPrefix(prefix) { return Int(text.dropFirst(prefix.count)) }
        }
        return nil
    }

    /// Every process below `root`, children before grandchildren.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for pid in all() {
            if let parent = parent(of: pid) { children[parent, default: []].append(pid) }
        }
        var found: [pid_t] = []
        var frontier = [root]
        while let next = frontier.popLast() {
            let below = children[next] ?? []
            found += below
            frontier += below
        }
        return found
    }

    /// The MPI ranks (rank -> pid) of a job whose mpirun is `launcher`: its descendants
    /// running `binary`.
    static func ranks(launchedBy launcher: pid_t, binary: String) -> [Int: pid_t] {
        var ranks: [Int: pid_t] = [:]
        for pid in descendants(of: launcher) where commandLine(of: pid).first == binary {
            if let rank = mpiRank(of: pid) { ranks[rank] = pid }
        }
        return ranks
    }

    /// Live processes whose command line mentions `text` (e.g. a test's scratch directory).
    static func processes(mentioning text: String) -> [pid_t] {
        let me = getpid()
        return all().filter { pid in
            pid != me && commandLine(of: pid).contains { $0.contains(text) }
        }
    }

    /// SIGKILL to `root`, its process group and every descendant (and their groups).
    static func killTree(rootedAt root: pid_t) {
        let below = descendants(of: root)
        for pid in [root] + below {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
    }

    /// Processes mentioning `text` still alive after up to `seconds`; they are killed before
    /// this returns, so that one test's failure does not load the machine for the next.
    static func survivors(mentioning text: String, after seconds: Double) -> [pid_t] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if processes(mentioning: text).isEmpty { return [] }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let left = processes(mentioning: text)
        for pid in left { killTree(rootedAt: pid) }
        return left
    }
}
