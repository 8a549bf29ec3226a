import CHDF5

/// An open HDF5 file, closed when the object goes away (or by `close()`).
public final class HDF5File {
    public enum Mode { case readOnly, readWrite }

    public let path: String
    let id: hid_t
    private var isOpen = true

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    /// Creates (or truncates) a file. With `latestFormat`, the file uses the HDF5 1.10 format
    /// that single-writer/multiple-reader access needs (see `startSingleWriterMultipleReaders`).
    public static func create(_ path: String, latestFormat: Bool = false) throws -> HDF5File {
        _ = HDF5.initialised
        let access = try HDF5.id(H5Pcreate(dft_H5P_FILE_ACCESS()), "creating file access properties")
        defer { H5Pclose(access) }
        if latestFormat {
            try HDF5.check(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110), "setting format bounds")
        }
        let id = try HDF5.id(H5Fcreate(path, dft_H5F_ACC_TRUNC(), dft_H5P_DEFAULT(), access), "creating '\(path)'")
        return HDF5File(path: path, id: id)
    }

    public static func open(_ path: String, mode: Mode = .readOnly, singleWriterMultipleReaders: Bool = false) throws -> HDF5File {
        _ = HDF5.initialised
        var flags = mode == .readOnly ? dft_H5F_ACC_RDONLY() : dft_H5F_ACC_RDWR()
        if singleWriterMultipleReaders {
            flags |= mode == .readOnly ? dft_H5F_ACC_SWMR_READ() : dft_H5F_ACC_SWMR_WRITE()
        }
        let id = try HDF5.id(H5Fopen(path, flags, dft_H5P_DEFAULT()), "opening '\(path)'")
        return HDF5File(path: path, id: id)
    }

    /// True when `path` is an HDF5 file (a cheap signature check).
    public static func isHDF5(_ path: String) -> Bool {
        _ = HDF5.initialised
        return H5Fis_hdf5(path) > 0
    }

    /// The root group "/".
    public func root() throws -> HDF5Group {
        try HDF5Group(id: HDF5.id(H5Gopen2(id, "/", dft_H5P_DEFAULT()), "opening '/' of '\(path)'"), path: "/")
    }

    /// Switches a file opened for writing in the latest format into SWMR mode: from here on,
    /// readers that open it with `swmr=True` (h5py) see every flushed append while it grows.
    /// Objects must all be created before this call.
    public func startSingleWriterMultipleReaders() throws {
        try HDF5.check(H5Fstart_swmr_write(id), "starting SWMR writing on '\(path)'")
    }

    /// Writes everything buffered to the file.
    public func flush() throws {
        try HDF5.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "flushing '\(path)'")
    }

    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        try HDF5.check(H5Fclose(id), "closing '\(path)'")
    }

    deinit {
        if isOpen { H5Fclose(id) }
    }
}
