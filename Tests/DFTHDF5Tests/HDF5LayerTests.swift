import DFTHDF5
import Foundation
import Testing

@Suite("HDF5 layer")
struct HDF5LayerTests {
    func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "dft-hdf5-\(UUID().uuidString)-\(name).h5"
    }

    @Test("Datasets, slabs, attributes and child names survive a close and reopen")
    func roundTrip() throws {
        let path = temporaryPath("round")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }
        do {
            let file = try HDF5File.create(path)
            let root = try file.root()
            let group = try root.createGroup("model")
            try values.withUnsafeBufferPointer { try group.writeFloats("w", $0.baseAddress!, shape: [3, 4]) }
            try root.createFloats("flat", count: 10)
            let piece: [Float] = [7, 8, 9]
            try piece.withUnsafeBufferPointer { try root.writeFloats("flat", $0.baseAddress!, count: 3, at: 6) }
            try root.setAttribute("name", "dft ✓ unicode")
            try root.setAttribute("step", 42)
            try root.setAttribute("rate", 2.5e-5)
            try root.setAttribute("dims", [3, 4, 5])
            try root.setAttribute("step", 43)  // overwrite
            try file.close()
        }
        let file = try HDF5File.open(path)
        let root = try file.root()
        #expect(try root.childNames() == ["flat", "model"])
        #expect(try root.stringAttribute("name") == "dft ✓ unicode")
        #expect(try root.intAttribute("step") == 43)
        #expect(try root.doubleAttribute("rate") == 2.5e-5)
        #expect(try root.intArrayAttribute("dims") == [3, 4, 5])
        let group = try root.openGroup("model")
        #expect(try group.shape(of: "w") == [3, 4])
        var back = [Float](repeating: 0, count: 12)
        try back.withUnsafeMutableBufferPointer { try group.readFloats("w", into: $0.baseAddress!, expectedShape: [3, 4]) }
        #expect(back == values)
        var slab = [Float](repeating: -1, count: 4)
        try slab.withUnsafeMutableBufferPointer { try root.readFloats("flat", into: $0.baseAddress!, count: 4, at: 5) }
        #expect(slab == [0, 7, 8, 9])
        #expect(try root.readDoubles("flat").count == 10)
    }

    @Test("Errors carry the operation and HDF5's own message instead of printing")
    func errors() throws {
        #expect(throws: HDF5Error.self) { _ = try HDF5File.open("/nonexistent/dir/x.h5") }
        do {
            _ = try HDF5File.open("/nonexistent/dir/x.h5")
        } catch let error as HDF5Error {
            #expect(error.description.contains("/nonexistent/dir/x.h5"))
            #expect(!error.message.isEmpty)
        }
        let path = temporaryPath("errors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try HDF5File.create(path)
        let root = try file.root()
        var buffer = [Float](repeating: 0, count: 4)
        #expect(throws: HDF5Error.self) {
            try buffer.withUnsafeMutableBufferPointer { try root.readFloats("missing", into: $0.baseAddress!, expectedShape: [4]) }
        }
        try root.createFloats("flat", count: 4)
        #expect(throws: HDF5Error.self) {
            try buffer.withUnsafeMutableBufferPointer { try root.readFloats("flat", into: $0.baseAddress!, count: 4, at: 2) }
        }
        #expect(throws: HDF5Error.self) { _ = try root.stringAttribute("absent") }
        #expect(!HDF5File.isHDF5("/etc/hostname"))
    }

    @Test("Series append rows, reopen, and truncate")
    func series() throws {
        let path = temporaryPath("series")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let file = try HDF5File.create(path, latestFormat: true)
            let root = try file.root()
            let steps = try HDF5Series.create(in: root, name: "step", element: .int64)
            let loss = try HDF5Series.create(in: root, name: "loss", element: .float64)
            let rows = try HDF5Series.create(in: root, name: "hist", element: .int64, width: 3)
            try file.startSingleWriterMultipleReaders()
            for i in 0..<5 {
                try steps.append(i)
                try loss.append(Double(i) / 4)
                var row: [Int64] = [Int64(i), Int64(2 * i), Int64(3 * i)]
                try row.withUnsafeMutableBytes { try rows.append($0.baseAddress!) }
            }
            try file.close()
        }
        do {
            let file = try HDF5File.open(path, mode: .readWrite, singleWriterMultipleReaders: true)
            let root = try file.root()
            let steps = try HDF5Series.open(in: root, name: "step", element: .int64)
            #expect(steps.rows == 5)
            try steps.truncate(to: 3)
            try steps.append(99)
            let hist = try HDF5Series.open(in: root, name: "hist", element: .int64)
            #expect(hist.width == 3 && hist.rows == 5)
            try file.close()
        }
        let root = try HDF5File.open(path, singleWriterMultipleReaders: true).root()
        #expect(try root.readDoubles("step") == [0, 1, 2, 99])
        #expect(try root.readDoubles("loss") == [0, 0.25, 0.5, 0.75, 1])
        #expect(try root.shape(of: "hist") == [5, 3])
        #expect(try root.readDoubles("hist").suffix(3) == [4, 8, 12])
    }
}

@Suite("HDF5 integer series and reads")
struct HDF5IntegerTests {
    @Test("int32 and uint8 series append and read back whole and in slices; int64 too")
    func integers() throws {
        let path = NSTemporaryDirectory() + "dft-hdf5-ints-\(UUID().uuidString).h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let file = try HDF5File.create(path)
            let root = try file.root()
            let ids = try HDF5Series.create(in: root, name: "ids", element: .int32)
            let mask = try HDF5Series.create(in: root, name: "mask", element: .uint8)
            let wide = try HDF5Series.create(in: root, name: "wide", element: .int64)
            var values: [Int32] = [7, -3, 151_935, 0, 42]
            try values.withUnsafeMutableBytes { try ids.append(rows: 5, $0.baseAddress!) }
            var bits: [UInt8] = [0, 1, 1, 0, 1]
            try bits.withUnsafeMutableBytes { try mask.append(rows: 5, $0.baseAddress!) }
            try wide.append(doubles: [0, 3, 5])
            try file.close()
        }
        let root = try HDF5File.open(path).root()
        #expect(try root.readInt32s("ids") == [7, -3, 151_935, 0, 42])
        #expect(try root.readInt32s("ids", count: 2, at: 2) == [151_935, 0])
        #expect(try root.readUInt8s("mask") == [0, 1, 1, 0, 1])
        #expect(try root.readUInt8s("mask", count: 3, at: 1) == [1, 1, 0])
        #expect(try root.readInt64s("wide") == [0, 3, 5])
        #expect(try root.readInt64s("wide", count: 1, at: 2) == [5])
        #expect(throws: HDF5Error.self) { _ = try root.readInt32s("ids", count: 3, at: 4) }
    }
}
