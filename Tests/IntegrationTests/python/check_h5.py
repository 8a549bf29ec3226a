"""Reads dft-mpi's HDF5 files with h5py, as a user's script would, and prints JSON for the
Swift integration tests. Exits non-zero with a message on stderr when it cannot.

Commands:
  dump FILE             every attribute, group and dataset of FILE (opened with swmr=True):
                        floating-point values as hex bit patterns (exact), integers as ints
  live FILE SECONDS     while another process writes FILE: open it in SWMR mode, read the
                        row counts, wait SECONDS, refresh and read them again
  corrupt FILE DATASET  invert 8 bytes in the middle of DATASET's data on disk (its offset
                        from h5py), leaving the HDF5 structure intact
  poison FILE DATASET CHECKSUM
                        set the first element of the float32 DATASET to NaN (bits 7fc00000)
                        and the parent group's `checksum` attribute to CHECKSUM: a file that
                        passes its checksum but holds a non-finite weight

Run with /usr/bin/python3 (Debian's python3-h5py and python3-numpy; scripts/setup.sh installs
them).
"""

import json
import sys
import time

try:
    import h5py
    import numpy as np
except ImportError as error:
    sys.exit(f"check_h5.py: {error} for {sys.executable}; install python3-h5py and python3-numpy "
             "(apt-get install -y python3-h5py python3-numpy, or run scripts/setup.sh)")


def attribute(value):
    """An attribute as {"type", "value"}: the Python type h5py gives, and a JSON value (a float
    as the hex bit pattern of its float64 value)."""
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, (bytes, np.bytes_)):
        return {"type": "bytes", "value": bytes(value).decode("utf-8", "replace")}
    if isinstance(value, (bool, np.bool_)):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, (int, np.integer)):
        return {"type": "int", "value": int(value)}
    if isinstance(value, (float, np.floating)):
        bits = np.array([value], dtype="<f8").view("<u8")[0]
        return {"type": "float", "value": format(int(bits), "016x")}
    return {"type": type(value).__name__, "value": repr(value)}


def values(dataset):
    """A dataset's values, flattened in C order: floats as hex bit patterns, integers as ints."""
    data = dataset[()]
    array = np.asarray(data).reshape(-1)
    kind = array.dtype.kind
    if kind == "f":
        width = array.dtype.itemsize * 2
        unsigned = array.view(f"<u{array.dtype.itemsize}")
        return [format(int(bits), f"0{width}x") for bits in unsigned]
    if kind in "iub":
        return [int(v) for v in array]
    return [repr(v) for v in array]


def dtype_name(dtype):
    return {"f": "float", "i": "int", "u": "uint"}.get(dtype.kind, dtype.kind) + str(dtype.itemsize * 8)


def describe(group):
    result = {"attrs": {name: attribute(group.attrs[name]) for name in group.attrs},
              "groups": {}, "datasets": {}}
    for name, item in group.items():
        if isinstance(item, h5py.Group):
            result["groups"][name] = describe(item)
        else:
            item.refresh()
            result["datasets"][name] = {
                "dtype": dtype_name(item.dtype),
                "shape": list(item.shape),
                "maxshape": [-1 if m is None else m for m in item.maxshape],
                "attrs": {a: attribute(item.attrs[a]) for a in item.attrs},
                "values": values(item),
            }
    return result


def dump(path):
    with h5py.File(path, "r", swmr=True) as f:
        return describe(f)


def live(path, seconds):
    def rows(f):
        counts = {}
        for name in ("step", "nll", "p_histogram_step"):
            f[name].refresh()
            counts[name] = int(f[name].shape[0])
        steps = f["step"][()].tolist()
        return counts, steps

    with h5py.File(path, "r", swmr=True) as f:
        first, first_steps = rows(f)
        time.sleep(seconds)
        second, second_steps = rows(f)
    return {"first": first, "second": second,
            "first_steps_in_order": first_steps == list(range(len(first_steps))),
            "second_steps_in_order": second_steps == list(range(len(second_steps)))}


def corrupt(path, name):
    with h5py.File(path, "r") as f:
        dataset = f[name]
        offset = dataset.id.get_offset()
        size = dataset.id.get_storage_size()
    if offset is None or size < 16:
        sys.exit(f"check_h5.py: dataset {name} of {path} has no contiguous data to damage "
                 f"(offset {offset}, {size} bytes)")
    position = offset + size // 2
    with open(path, "r+b") as raw:
        raw.seek(position)
        original = raw.read(8)
        raw.seek(position)
        raw.write(bytes(b ^ 0xFF for b in original))
    return {"offset": offset, "size": size, "damaged_at": position}


def poison(path, name, checksum):
    with h5py.File(path, "r+") as f:
        dataset = f[name]
        flat = dataset[()].reshape(-1)
        flat.view("<u4")[0] = 0x7FC00000
        dataset[()] = flat.reshape(dataset.shape)
        dataset.parent.attrs.modify("checksum", checksum)
    return {"dataset": name, "checksum": checksum}


def main(argv):
    if len(argv) >= 2 and argv[0] == "dump":
        result = dump(argv[1])
    elif len(argv) >= 3 and argv[0] == "live":
        result = live(argv[1], float(argv[2]))
    elif len(argv) >= 3 and argv[0] == "corrupt":
        result = corrupt(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "poison":
        result = poison(argv[1], argv[2], argv[3])
    else:
        sys.exit("usage: check_h5.py dump FILE | live FILE SECONDS | corrupt FILE DATASET | "
                 "poison FILE DATASET CHECKSUM")
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (OSError, KeyError) as error:
        sys.exit(f"check_h5.py {' '.join(sys.argv[1:])}: {error}")
