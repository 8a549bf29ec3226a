import Foundation

/// Reads the binary's HDF5 files through h5py (`python/check_h5.py`), as a user's script
/// would: what the tests check is what another HDF5 reader sees, not what dft-mpi reads back.
/// Debian's /usr/bin/python3 with python3-h5py is required; a missing one is a failure that
/// says how to install it, never a skip.
enum H5Py {
    static let interpreter = "/usr/bin/python3"

    /// `Tests/IntegrationTests/python/check_h5.py`, next to this source file's directory.
    static var script: String {
        RepositoryPaths.path("Tests/IntegrationTests/python/check_h5.py")
    }

    /// Runs `check_h5.py arguments` and returns its JSON output.
    static func run(_ arguments: [String], seconds: Double = 60) throws -> Any {
        guard FileManager.default.isExecutableFile(atPath: interpreter) else {
            throw SetupError("""
                \(interpreter) is missing; the HDF5 checks need Debian's Python with h5py: \
                `apt-get install -y python3 python3-h5py python3-numpy` (or run scripts/setup.sh)
                """)
        }
        guard FileManager.default.fileExists(atPath: script) else {
            throw SetupError("the h5py helper \(script) is missing")
        }
        let result = try ChildProcess.run([interpreter, script] + arguments, seconds: seconds)
        guard result.succeeded else {
            throw SetupError("the h5py helper failed\(result.transcript)")
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        } catch {
            throw SetupError("the h5py helper printed no JSON (\(error))\(result.transcript)")
        }
    }

    /// Every attribute, group and dataset of `path`.
    static func dump(_ path: String) throws -> H5Group {
        try H5Group(try run(["dump", path]), at: path)
    }

    /// Inverts 8 bytes in the middle of `dataset`'s data in the file; the HDF5 structure stays valid.
    static func corrupt(_ path: String, dataset: String) throws {
        _ = try run(["corrupt", path, dataset])
    }

    /// The NaN `poison` writes as the first element of a dataset.
    static let poisonBits: UInt32 = 0x7fc0_0000

    /// Sets the first element of the float32 `dataset` to NaN (`poisonBits`) and its group's
    /// `checksum` attribute to `checksum`.
    static func poison(_ path: String, dataset: String, checksum: String) throws {
        _ = try run(["poison", path, dataset, checksum])
    }

    /// Row counts of `step`, `nll` and `p_histogram_step` read twice, `seconds` apart, from
    /// one SWMR reader of a file another process is writing.
    static func liveRows(_ path: String, seconds: Double) throws -> LiveRows {
        guard let fields = try run(["live", path, String(seconds)]) as? [String: Any],
              let first = fields["first"] as? [String: Int], let second = fields["second"] as? [String: Int],
              let firstInOrder = fields["first_steps_in_order"] as? Bool,
              let secondInOrder = fields["second_steps_in_order"] as? Bool
        else { throw SetupError("unexpected output of check_h5.py live \(path)") }
        return LiveRows(first: first, second: second, firstInOrder: firstInOrder, secondInOrder: secondInOrder)
    }
}

struct LiveRows {
    let first: [String: Int]
    let second: [String: Int]
    /// The `step` column read was exactly 0, 1, ..., rows-1.
    let firstInOrder: Bool
    let secondInOrder: Bool
}

/// An attribute as h5py returns it: its Python type (`str`, `int`, `float`, `bytes`, ...)
/// and value.
struct H5Attribute {
    let type: String
    let string: String?
    let int: Int?
    let double: Double?

    init(_ object: Any) throws {
        guard let fields = object as? [String: Any], let type = fields["type"] as? String else {
            throw SetupError("malformed attribute \(object)")
        }
        self.type = type
        let value = fields["value"]
        string = value as? String
        int = type == "int" ? (value as? NSNumber)?.intValue : nil
        double = type == "float" ? (value as? String).flatMap { UInt64($0, radix: 16) }.map(Double.init(bitPattern:)) : nil
    }
}

/// A dataset: element type (`float32`, `float64`, `int64`, ...), shape, and values in C order.
struct H5Dataset {
    let dtype: String
    let shape: [Int]
    /// -1 for an unlimited dimension.
    let maxShape: [Int]
    let attributes: [String: H5Attribute]
    /// Every value, exact (float32 and int64 both convert to Double without rounding here).
    let values: [Double]
    /// The float32 values, bit for bit, for a float32 dataset.
    let floats: [Float]?
    /// The integer values, for an integer dataset.
    let ints: [Int]?

    init(_ object: Any, name: String) throws {
        guard let fields = object as? [String: Any], let dtype = fields["dtype"] as? String,
              let shape = fields["shape"] as? [Int], let maxShape = fields["maxshape"] as? [Int],
              let attributes = fields["attrs"] as? [String: Any], let raw = fields["values"] as? [Any]
        else { throw SetupError("malformed dataset \(name)") }
        self.dtype = dtype
        self.shape = shape
        self.maxShape = maxShape
        self.attributes = try attributes.mapValues(H5Attribute.init)
        switch dtype {
        case "float32":
            let floats = try raw.map { item -> Float in
                guard let hex = item as? String, let bits = UInt32(hex, radix: 16) else {
                    throw SetupError("dataset \(name): \(item) is not a float32 bit pattern")
                }
                return Float(bitPattern: bits)
            }
            self.floats = floats
            ints = nil
            values = floats.map(Double.init)
        case "float64":
            values = try raw.map { item -> Double in
                guard let hex = item as? String, let bits = UInt64(hex, radix: 16) else {
                    throw SetupError("dataset \(name): \(item) is not a float64 bit pattern")
                }
                return Double(bitPattern: bits)
            }
            floats = nil
            ints = nil
        default:
            let ints = try raw.map { item -> Int in
                guard let number = item as? NSNumber else { throw SetupError("dataset \(name): \(item) is not an integer") }
                return number.intValue
            }
            self.ints = ints
            floats = nil
            values = ints.map(Double.init)
        }
    }

    /// Rows of a 2-D integer dataset.
    var intRows: [[Int]] {
        guard let ints, shape.count == 2, shape[1] > 0 else { return [] }
        return stride(from: 0, to: ints.count, by: shape[1]).map { Array(ints[$0..<min($0 + shape[1], ints.count)]) }
    }
}

/// A group (or the file's root): attributes, subgroups and datasets by name.
struct H5Group {
    let attributes: [String: H5Attribute]
    let groups: [String: H5Group]
    let datasets: [String: H5Dataset]

    init(_ object: Any, at path: String) throws {
        guard let fields = object as? [String: Any], let attributes = fields["attrs"] as? [String: Any],
              let groups = fields["groups"] as? [String: Any], let datasets = fields["datasets"] as? [String: Any]
        else { throw SetupError("malformed h5py description of \(path)") }
        self.attributes = try attributes.mapValues(H5Attribute.init)
        self.groups = try groups.reduce(into: [:]) { $0[$1.key] = try H5Group($1.value, at: "\(path)/\($1.key)") }
        self.datasets = try datasets.reduce(into: [:]) { $0[$1.key] = try H5Dataset($1.value, name: "\(path)/\($1.key)") }
    }

    func dataset(_ name: String) throws -> H5Dataset {
        guard let dataset = datasets[name] else {
            throw SetupError("no dataset '\(name)' (datasets: \(datasets.keys.sorted()))")
        }
        return dataset
    }

    func group(_ name: String) throws -> H5Group {
        guard let group = groups[name] else { throw SetupError("no group '\(name)' (groups: \(groups.keys.sorted()))") }
        return group
    }
}
