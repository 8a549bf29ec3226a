import Testing
@testable import DFTRuntime

@Suite("Threads per rank")
struct ThreadPolicyTests {
    @Test("Threads come from --threads, then Slurm, then OMP_NUM_THREADS, then cores / local ranks")
    func threadOrder() {
        let env = ["SLURM_CPUS_PER_TASK": "6", "OMP_NUM_THREADS": "3"]
        #expect(ThreadPolicy.resolve(requested: 5, environment: env, nodeCores: 16, ranksOnNode: 2, allowedCPUs: nil).threads == 5)
        #expect(ThreadPolicy.resolve(requested: 0, environment: env, nodeCores: 16, ranksOnNode: 2, allowedCPUs: nil).threads == 6)
        #expect(ThreadPolicy.resolve(requested: 0, environment: ["OMP_NUM_THREADS": "3"], nodeCores: 16,
                                     ranksOnNode: 2, allowedCPUs: nil).threads == 3)
        let split = ThreadPolicy.resolve(requested: 0, environment: [:], nodeCores: 16, ranksOnNode: 3, allowedCPUs: nil)
        #expect(split.threads == 5 && split.warning == nil)
        #expect(ThreadPolicy.resolve(requested: 0, environment: [:], nodeCores: 2, ranksOnNode: 4, allowedCPUs: nil).threads == 1)
    }

    @Test("A rank bound to fewer CPUs than its threads is cut down, with a warning naming the launch options")
    func bindingWarning() {
        let p = ThreadPolicy.resolve(requested: 4, environment: [:], nodeCores: 8, ranksOnNode: 2, allowedCPUs: 1)
        #expect(p.threads == 1)
        let warning = p.warning ?? ""
        #expect(warning.contains("--bind-to none") && warning.contains("--map-by slot:PE=4"))
        #expect(ThreadPolicy.resolve(requested: 4, environment: [:], nodeCores: 8, ranksOnNode: 2, allowedCPUs: 4).warning == nil)
    }

    @Test("Kernel CPU lists are counted")
    func cpuLists() {
        #expect(ThreadPolicy.cpuCount(list: "0-3,8,10-11") == 7)
        #expect(ThreadPolicy.cpuCount(list: "1") == 1)
        #expect(ThreadPolicy.cpuCount(list: "3-1") == nil)
        #expect(ThreadPolicy.cpuCount(list: "x") == nil)
    }
}
