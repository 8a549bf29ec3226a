import CMPI
import Foundation

/// What ends a job whose collective has not completed within `--comm-timeout` seconds (a node
/// that died, a link that went down, a rank stuck outside MPI), so that no rank waits forever
/// and an allocation is not burnt on a hang (PyTorch's collective timeout plays this part).
///
/// When a rank's wait runs out, it first asks every rank, on a communicator of its own, whether
/// it still answers: a rank answers while it is inside MPI (waiting in a collective itself, or
/// in this same probe), so the ranks stuck behind the same failure all hear each other, and the
/// ones that do not answer are those across the dead node or link, or the rank that never came
/// to the collective. Then it prints one error naming the collective, what the job was doing
/// (the step) and the silent ranks with their hosts, and calls MPI_Abort, which ends every
/// rank that its launcher can still reach; the others end on their own timeout.
final class CollectiveWatchdog {
    private let probes: MPI_Comm
    private let rank: Int
    private let size: Int
    /// [size] host name of every rank (MPI_Get_processor_name), gathered at start.
    private let hosts: [String]
    /// Distinct host names among the ranks: the nodes the job runs on.
    let hostCount: Int

    private static let pingTag: Int32 = 7101
    private static let answerTag: Int32 = 7102

    init(world: MPI_Comm, rank: Int, size: Int) {
        self.rank = rank
        self.size = size
        var dup: MPI_Comm?
        MPI_Comm_dup(world, &dup)
        probes = dup!
        // [size, width] NUL-padded host names.
        let width = 64
        var names = [CChar](repeating: 0, count: size * width)
        var mine = [CChar](repeating: 0, count: Int(MPI_MAX_PROCESSOR_NAME) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&mine, &length)
        for i in 0..<min(Int(length), width - 1) { names[rank * width + i] = mine[i] }
        MPI_Allgather(dft_MPI_IN_PLACE(), 0, dft_MPI_DATATYPE_NULL(), &names, Int32(width), dft_MPI_CHAR(), world)
        hosts = (0..<size).map { r in
            let bytes = names[(r * width)..<((r + 1) * width)].prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
        hostCount = Set(hosts).count
    }

    /// Ends the job after `operation` waited `waited` seconds during `activity`.
    func expire(operation: String, activity: CommunicationActivity, waited: Double) -> Never {
        let window = min(5.0, max(1.0, waited / 4))
        let answered = probe(seconds: window)
        let silent = (0..<size).filter { !answered.contains($0) }
        let who = silent.isEmpty
            ? "every rank answered a probe within \(Self.seconds(window)) (a rank may be far behind, or the data path between ranks is down while the probe's got through)"
            : "no answer within \(Self.seconds(window)) from \(describe(silent))"
        let message = """
            rank \(rank) (\(hosts[rank])): error: communication timeout: \(operation) did not complete within \
            \(Self.seconds(waited)) (--comm-timeout) during \(activity); \(who). The job ends \
            (exit code \(ExitCodes.communicationTimeout)); its last checkpoint is intact: run the same command \
            to continue, on the nodes that are left (any number of ranks).

            """
        FileHandleOutput.standardError.write(message)
        Self.abort(probes, code: ExitCodes.communicationTimeout)
    }

    /// MPI_Abort, with a deadline: when the launcher cannot be reached either (the link is
    /// down), SIGALRM's default action ends this process all the same.
    static func abort(_ communicator: MPI_Comm, code: Int32) -> Never {
        alarm(10)
        MPI_Abort(communicator, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }

    /// "ranks 2, 3 (node2)": ranks grouped by host.
    private func describe(_ ranks: [Int]) -> String {
        var byHost: [(host: String, ranks: [Int])] = []
        for r in ranks {
            if let i = byHost.firstIndex(where: { $0.host == hosts[r] }) { byHost[i].ranks.append(r) }
            else { byHost.append((hosts[r], [r])) }
        }
        return byHost.map { group in
            "rank\(group.ranks.count == 1 ? "" : "s") \(group.ranks.map(String.init).joined(separator: ", ")) (\(group.host))"
        }.joined(separator: "; ")
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// Sends a ping to every other rank and answers theirs for `seconds`; returns the ranks
    /// that answered (this one included). The buffers and the sends' requests are never freed
    /// or completed: the process ends next.
    private func probe(seconds: Double) -> Set<Int> {
        var answered: Set<Int> = [rank]
        let token = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        token.pointee = Int32(rank)
        let replies = UnsafeMutablePointer<Int32>.allocate(capacity: size)      // [size]
        let replyRequests = UnsafeMutablePointer<MPI_Request?>.allocate(capacity: size)
        let incoming = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        for peer in 0..<size {
            replyRequests[peer] = dft_MPI_REQUEST_NULL()
            guard peer != rank else { continue }
            var send: MPI_Request? = dft_MPI_REQUEST_NULL()
            MPI_Isend(token, 1, dft_MPI_INT(), Int32(peer), Self.pingTag, probes, &send)
            MPI_Irecv(replies + peer, 1, dft_MPI_INT(), Int32(peer), Self.answerTag, probes, replyRequests + peer)
        }
        var ping: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Irecv(incoming, 1, dft_MPI_INT(), dft_MPI_ANY_SOURCE(), Self.pingTag, probes, &ping)
        // Serve the whole window even once everyone answered: a rank that times out a little
        // later than this one still needs this one's answer.
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while DispatchTime.now().uptimeNanoseconds < end {
            var flag: Int32 = 0
            var status = MPI_Status()
            MPI_Test(&ping, &flag, &status)
            if flag != 0 {
                var answer: MPI_Request? = dft_MPI_REQUEST_NULL()
                MPI_Isend(token, 1, dft_MPI_INT(), status.MPI_SOURCE, Self.answerTag, probes, &answer)
                ping = dft_MPI_REQUEST_NULL()
                MPI_Irecv(incoming, 1, dft_MPI_INT(), dft_MPI_ANY_SOURCE(), Self.pingTag, probes, &ping)
            }
            for peer in 0..<size where !answered.contains(peer) {
                MPI_Test(replyRequests + peer, &flag, dft_MPI_STATUS_IGNORE())
                if flag != 0 { answered.insert(peer) }
            }
            usleep(1000)
        }
        return answered
    }
}
