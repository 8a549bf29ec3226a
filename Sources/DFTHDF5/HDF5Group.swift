import CHDF5
import Foundation

/// A group of an open file: child groups, datasets and attributes by name.
public final class HDF5Group {
    let id: hid_t
    public let path: String

    init(id: hid_t, path: String) {
        self.id = id
        self.path = path
    }

    deinit { H5Gclose(id) }

    func child(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    public func exists(_ name: String) -> Bool { H5Lexists(id, name, dft_H5P_DEFAULT()) > 0 }

    public func createGroup(_ name: String) throws -> HDF5Group {
        let g = try HDF5.id(H5Gcreate2(id, name, dft_H5P_DEFAULT(), dft_H5P_DEFAULT(), dft_H5P_DEFAULT()),
                            "creating group \(child(name))")
        return HDF5Group(id: g, path: child(name))
    }

    public func openGroup(_ name: String) throws -> HDF5Group {
        let g = try HDF5.id(H5Gopen2(id, name, dft_H5P_DEFAULT()), "opening group \(child(name))")
        return HDF5Group(id: g, path: child(name))
    }

    /// Names of the direct children, in HDF5's name order.
    public func childNames() throws -> [String] {
        var names: [String] = []
        var index: hsize_t = 0
        _ = try withUnsafeMutablePointer(to: &names) { namesPointer in
            try HDF5.check(H5Literate(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                data!.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name!))
                return 0
            }, namesPointer), "listing \(path)")
        }
        return names
    }

    // MARK: Datasets

    /// Creates a dataset of `shape` holding `values` (row-major), stored as little-endian float32.
    public func writeFloats(_ name: String, _ values: UnsafePointer<Float>, shape: [Int]) throws {
        try write(name, values, shape: shape, fileType: dft_H5T_IEEE_F32LE(), memoryType: dft_H5T_NATIVE_FLOAT())
    }

    public func writeInt64s(_ name: String, _ values: [Int64], shape: [Int]? = nil) throws {
        try values.withUnsafeBufferPointer { v in
            try write(name, v.baseAddress!, shape: shape ?? [values.count], fileType: dft_H5T_STD_I64LE(),
                      memoryType: dft_H5T_NATIVE_INT64())
        }
    }

    func write<T>(_ name: String, _ values: UnsafePointer<T>, shape: [Int], fileType: hid_t, memoryType: hid_t) throws {
        let dims = shape.map { hsize_t($0) }
        let space = try HDF5.id(H5Screate_simple(Int32(dims.count), dims, nil), "making the dataspace of \(child(name))")
        defer { H5Sclose(space) }
        let set = try HDF5.id(H5Dcreate2(id, name, fileType, space, dft_H5P_DEFAULT(), dft_H5P_DEFAULT(), dft_H5P_DEFAULT()),
                              "creating dataset \(child(name))")
        defer { H5Dclose(set) }
        try HDF5.check(H5Dwrite(set, memoryType, dft_H5S_ALL(), dft_H5S_ALL(), dft_H5P_DEFAULT(), values),
                       "writing dataset \(child(name))")
    }

    /// Creates a 1-D float32 dataset of `count` elements, to be filled in pieces with `writeFloats(_:at:)`.
    public func createFloats(_ name: String, count: Int) throws {
        let dims = [hsize_t(count)]
        let space = try HDF5.id(H5Screate_simple(1, dims, nil), "making the dataspace of \(child(name))")
        defer { H5Sclose(space) }
        let set = try HDF5.id(H5Dcreate2(id, name, dft_H5T_IEEE_F32LE(), space, dft_H5P_DEFAULT(), dft_H5P_DEFAULT(),
                                         dft_H5P_DEFAULT()), "creating dataset \(child(name))")
        H5Dclose(set)
    }

    /// Writes `count` values into elements [offset, offset + count) of a 1-D dataset.
    public func writeFloats(_ name: String, _ values: UnsafePointer<Float>, count: Int, at offset: Int) throws {
        try withSlab(name, offset: offset, count: count) { set, memory, file in
            try HDF5.check(H5Dwrite(set, dft_H5T_NATIVE_FLOAT(), memory, file, dft_H5P_DEFAULT(), values),
                           "writing elements \(offset)..<\(offset + count) of \(child(name))")
        }
    }

    /// Reads elements [offset, offset + count) of a 1-D dataset.
    public func readFloats(_ name: String, into values: UnsafeMutablePointer<Float>, count: Int, at offset: Int) throws {
        try withSlab(name, offset: offset, count: count) { set, memory, file in
            try HDF5.check(H5Dread(set, dft_H5T_NATIVE_FLOAT(), memory, file, dft_H5P_DEFAULT(), values),
                           "reading elements \(offset)..<\(offset + count) of \(child(name))")
        }
    }

    private func withSlab(_ name: String, offset: Int, count: Int,
                          _ body: (hid_t, hid_t, hid_t) throws -> Void) throws {
        let shape = try self.shape(of: name)
        guard shape.count == 1, offset >= 0, offset + count <= shape[0] else {
            throw HDF5Error(operation: "accessing \(child(name))",
                            message: "elements \(offset)..<\(offset + count) outside its shape \(shape)")
        }
        let set = try HDF5.id(H5Dopen2(id, name, dft_H5P_DEFAULT()), "opening dataset \(child(name))")
        defer { H5Dclose(set) }
        let file = try HDF5.id(H5Dget_space(set), "reading the dataspace of \(child(name))")
        defer { H5Sclose(file) }
        var start = [hsize_t(offset)], length = [hsize_t(count)]
        try HDF5.check(H5Sselect_hyperslab(file, H5S_SELECT_SET, &start, nil, &length, nil), "selecting in \(child(name))")
        let memory = try HDF5.id(H5Screate_simple(1, &length, nil), "making a memory dataspace")
        defer { H5Sclose(memory) }
        try body(set, memory, file)
    }

    /// The dimensions of a dataset.
    public func shape(of name: String) throws -> [Int] {
        let set = try HDF5.id(H5Dopen2(id, name, dft_H5P_DEFAULT()), "opening dataset \(child(name))")
        defer { H5Dclose(set) }
        let space = try HDF5.id(H5Dget_space(set), "reading the dataspace of \(child(name))")
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw HDF5Error.take("reading the rank of \(child(name))") }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.prefix(rank).map { Int($0) }
    }

    /// Reads a whole float dataset, checking that it has `expectedShape`.
    public func readFloats(_ name: String, into values: UnsafeMutablePointer<Float>, expectedShape: [Int]) throws {
        let shape = try self.shape(of: name)
        guard shape == expectedShape else {
            throw HDF5Error(operation: "reading \(child(name))", message: "shape \(shape), expected \(expectedShape)")
        }
        let set = try HDF5.id(H5Dopen2(id, name, dft_H5P_DEFAULT()), "opening dataset \(child(name))")
        defer { H5Dclose(set) }
        try HDF5.check(H5Dread(set, dft_H5T_NATIVE_FLOAT(), dft_H5S_ALL(), dft_H5S_ALL(), dft_H5P_DEFAULT(), values),
                       "reading dataset \(child(name))")
    }

    /// Reads a whole dataset as Double (any numeric stored type converts).
    public func readDoubles(_ name: String) throws -> [Double] {
        let count = try shape(of: name).reduce(1, *)
        var values = [Double](repeating: 0, count: count)
        let set = try HDF5.id(H5Dopen2(id, name, dft_H5P_DEFAULT()), "opening dataset \(child(name))")
        defer { H5Dclose(set) }
        if count > 0 {
            try values.withUnsafeMutableBufferPointer { v in
                _ = try HDF5.check(H5Dread(set, dft_H5T_NATIVE_DOUBLE(), dft_H5S_ALL(), dft_H5S_ALL(),
                                           dft_H5P_DEFAULT(), v.baseAddress), "reading dataset \(child(name))")
            }
        }
        return values
    }

    /// Reads a whole integer dataset as Int64 (any stored integer type converts).
    public func readInt64s(_ name: String) throws -> [Int64] {
        try readWhole(name, memoryType: dft_H5T_NATIVE_INT64(), as: Int64.self)
    }

    /// Reads a whole integer dataset as Int32; stored values must fit (HDF5 clips those that do not).
    public func readInt32s(_ name: String) throws -> [Int32] {
        try readWhole(name, memoryType: dft_H5T_NATIVE_INT32(), as: Int32.self)
    }

    /// Reads a whole integer dataset as UInt8; stored values must fit (HDF5 clips those that do not).
    public func readUInt8s(_ name: String) throws -> [UInt8] {
        try readWhole(name, memoryType: dft_H5T_NATIVE_UINT8(), as: UInt8.self)
    }

    /// Reads elements [offset, offset + count) of a 1-D integer dataset as Int64.
    public func readInt64s(_ name: String, count: Int, at offset: Int) throws -> [Int64] {
        try readSlab(name, count: count, at: offset, memoryType: dft_H5T_NATIVE_INT64(), as: Int64.self)
    }

    /// Reads elements [offset, offset + count) of a 1-D integer dataset as Int32.
    public func readInt32s(_ name: String, count: Int, at offset: Int) throws -> [Int32] {
        try readSlab(name, count: count, at: offset, memoryType: dft_H5T_NATIVE_INT32(), as: Int32.self)
    }

    /// Reads elements [offset, offset + count) of a 1-D integer dataset as UInt8.
    public func readUInt8s(_ name: String, count: Int, at offset: Int) throws -> [UInt8] {
        try readSlab(name, count: count, at: offset, memoryType: dft_H5T_NATIVE_UINT8(), as: UInt8.self)
    }

    private func readWhole<T: FixedWidthInteger>(_ name: String, memoryType: hid_t, as: T.Type) throws -> [T] {
        let count = try shape(of: name).reduce(1, *)
        var values = [T](repeating: 0, count: count)
        let set = try HDF5.id(H5Dopen2(id, name, dft_H5P_DEFAULT()), "opening dataset \(child(name))")
        defer { H5Dclose(set) }
        if count > 0 {
            try values.withUnsafeMutableBufferPointer { v in
                _ = try HDF5.check(H5Dread(set, memoryType, dft_H5S_ALL(), dft_H5S_ALL(), dft_H5P_DEFAULT(), v.baseAddress),
                                   "reading dataset \(child(name))")
            }
        }
        return values
    }

    private func readSlab<T: FixedWidthInteger>(_ name: String, count: Int, at offset: Int, memoryType: hid_t,
                                                as: T.Type) throws -> [T] {
        var values = [T](repeating: 0, count: count)
        guard count > 0 else { return values }
        try values.withUnsafeMutableBufferPointer { v in
            try withSlab(name, offset: offset, count: count) { set, memory, file in
                try HDF5.check(H5Dread(set, memoryType, memory, file, dft_H5P_DEFAULT(), v.baseAddress),
                               "reading elements \(offset)..<\(offset + count) of \(child(name))")
            }
        }
        return values
    }

    // MARK: Attributes

    public func setAttribute(_ name: String, _ value: String) throws {
        try HDF5.check(dft_h5_write_string_attribute(id, name, value), "writing attribute \(name) of \(path)")
    }

    public func setAttribute(_ name: String, _ value: Int) throws {
        try setNumeric(name, [Int64(value)], fileType: dft_H5T_STD_I64LE(), memoryType: dft_H5T_NATIVE_INT64())
    }

    public func setAttribute(_ name: String, _ values: [Int]) throws {
        try setNumeric(name, values.map(Int64.init), fileType: dft_H5T_STD_I64LE(), memoryType: dft_H5T_NATIVE_INT64(),
                       array: true)
    }

    public func setAttribute(_ name: String, _ value: Double) throws {
        try setNumeric(name, [value], fileType: dft_H5T_IEEE_F64LE(), memoryType: dft_H5T_NATIVE_DOUBLE())
    }

    private func setNumeric<T>(_ name: String, _ values: [T], fileType: hid_t, memoryType: hid_t,
                               array: Bool = false) throws {
        if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
        var dims = [hsize_t(values.count)]
        let space = try HDF5.id(array ? H5Screate_simple(1, &dims, nil) : H5Screate(H5S_SCALAR),
                                "making the dataspace of attribute \(name)")
        defer { H5Sclose(space) }
        let attribute = try HDF5.id(H5Acreate2(id, name, fileType, space, dft_H5P_DEFAULT(), dft_H5P_DEFAULT()),
                                    "creating attribute \(name) of \(path)")
        defer { H5Aclose(attribute) }
        try values.withUnsafeBufferPointer { v in
            _ = try HDF5.check(H5Awrite(attribute, memoryType, v.baseAddress), "writing attribute \(name) of \(path)")
        }
    }

    public func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    public func stringAttribute(_ name: String) throws -> String {
        guard let raw = dft_h5_read_string_attribute(id, name) else {
            throw HDF5Error(operation: "reading attribute \(name) of \(path)", message: "missing or not a string")
        }
        defer { free(raw) }
        return String(cString: raw)
    }

    public func intAttribute(_ name: String) throws -> Int {
        guard let first = try numericAttribute(name, memoryType: dft_H5T_NATIVE_INT64(), as: Int64.self).first else {
            throw HDF5Error(operation: "reading attribute \(name) of \(path)", message: "empty")
        }
        return Int(first)
    }

    public func intArrayAttribute(_ name: String) throws -> [Int] {
        try numericAttribute(name, memoryType: dft_H5T_NATIVE_INT64(), as: Int64.self).map(Int.init)
    }

    public func doubleAttribute(_ name: String) throws -> Double {
        guard let first = try numericAttribute(name, memoryType: dft_H5T_NATIVE_DOUBLE(), as: Double.self).first else {
            throw HDF5Error(operation: "reading attribute \(name) of \(path)", message: "empty")
        }
        return first
    }

    private func numericAttribute<T: Numeric>(_ name: String, memoryType: hid_t, as: T.Type) throws -> [T] {
        guard H5Aexists(id, name) > 0 else {
            throw HDF5Error(operation: "reading attribute \(name) of \(path)", message: "missing")
        }
        let attribute = try HDF5.id(H5Aopen(id, name, dft_H5P_DEFAULT()), "opening attribute \(name) of \(path)")
        defer { H5Aclose(attribute) }
        let space = try HDF5.id(H5Aget_space(attribute), "reading the dataspace of attribute \(name)")
        defer { H5Sclose(space) }
        let count = Int(H5Sget_simple_extent_npoints(space))
        var values = [T](repeating: 0, count: max(count, 1))
        try values.withUnsafeMutableBufferPointer { v in
            _ = try HDF5.check(H5Aread(attribute, memoryType, v.baseAddress), "reading attribute \(name) of \(path)")
        }
        return Array(values.prefix(count))
    }
}
