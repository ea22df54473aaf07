#!/usr/bin/env python3
"""Writes an f32 copy of a GGUF model: every tensor dequantised, every metadata field kept.

The ACT parity check uses it: llama.cpp quantises activations to 8 bits whenever the weights are
quantised, which blurs the comparison of ACT effects between llama.cpp and the library; with f32
weights both engines compute in float32. Needs the PyPI packages gguf and numpy.

    python3 tools/dequantize_gguf.py IN.gguf OUT.gguf
"""
import os
import sys

import gguf
import numpy as np


def copy_metadata(reader, writer):
    for field in reader.fields.values():
        # The writer emits the architecture itself; GGUF.* are the reader's view of the header.
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)


def copy_tensors(reader, writer):
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        # GGUF lists dimensions innermost first; numpy shapes are outermost first.
        shape = tuple(int(n) for n in reversed(tensor.shape.tolist()))
        writer.add_tensor(tensor.name, values.reshape(shape))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    reader = gguf.GGUFReader(source)
    architecture = reader.fields["general.architecture"].contents()
    partial = target + ".partial"
    writer = gguf.GGUFWriter(partial, architecture)
    copy_metadata(reader, writer)
    copy_tensors(reader, writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, target)  # a complete file or none


if __name__ == "__main__":
    main()
