import Foundation
import Testing

extension Integration {
    /// A checkpoint is an HDF5 file that h5py reads as docs/CHECKPOINT.md describes it: the
    /// root attributes, one float32 dataset per tensor under its Hugging Face key and shape,
    /// the weights the run ended with, and AdamW's moments flat in the same order.
    @Suite("Checkpoints as h5py reads them")
    struct CheckpointFiles {
        static let rootAttributes: [(name: String, type: String)] = [
            ("format", "str"), ("format_version", "int"), ("dft_mpi_version", "str"), ("created", "str"),
            ("step", "int"), ("epoch", "int"), ("next_global_batch", "int"), ("seed", "int"),
            ("schedule_step", "int"), ("learning_rate_next", "float"), ("skipped_steps", "int"),
            ("consecutive_skips", "int"), ("ranks", "int"), ("zero", "int"), ("parameter_count", "int"),
            ("config_yaml", "str"), ("model_config_json", "str"),
        ]

        @Test("Attributes, /model tensors (HF names, shapes, final weights, checksum) and /optimizer moments",
              arguments: ModelFixture.allCases)
        func layout(model: ModelFixture) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = TrainSettings().with {
                $0.model = model
                $0.objective = "dft"
                $0.steps = 8
                $0.extra = ["--save-every", "4"]
            }
            let job = try TrainJob(.plain, settings, in: scratch)
            let result = try job.run()
            try #require(result.succeeded, "\(result.transcript)")
            let dump = try job.dump()
            let out = RunDirectory(path: job.outDirectory)
            #expect(out.checkpointNames == [checkpointName(step: 4), checkpointName(step: 8)], "\(out.listing)")

            let file = try CheckpointFile(out.checkpoint(step: 8))
            let attributes = file.root.attributes
            for (name, type) in Self.rootAttributes {
                #expect(attributes[name]?.type == type,
                        "root attribute '\(name)': \(attributes[name].map { "type \($0.type)" } ?? "missing"), expected \(type)")
            }
            #expect(attributes["format"]?.string == "dft-mpi-checkpoint")
            #expect(file.intAttribute("format_version") == 1)
            #expect(file.intAttribute("step") == 8)
            #expect(file.intAttribute("next_global_batch") == 8)
            #expect(file.intAttribute("schedule_step") == 8)
            #expect(file.intAttribute("seed") == 7)
            #expect(file.intAttribute("ranks") == 1 && file.intAttribute("zero") == 0)
            #expect(file.intAttribute("skipped_steps") == 0 && file.intAttribute("consecutive_skips") == 0)
            let tensors = model.documentedTensors
            let parameterCount = tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
            #expect(file.intAttribute("parameter_count") == parameterCount)
            #expect(attributes["created"]?.string.flatMap { ISO8601DateFormatter().date(from: $0) } != nil,
                    "'created' is not ISO 8601: \(attributes["created"]?.string ?? "missing")")
            let configYAML = try String(contentsOfFile: (job.outDirectory as NSString).appendingPathComponent("config.yaml"),
                                        encoding: .utf8)
            #expect(attributes["config_yaml"]?.string == configYAML, "config_yaml differs from OUT/config.yaml")

            // model_config_json is JSON with the fixture's config.json fields.
            let json = try #require(attributes["model_config_json"]?.string)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                                      "model_config_json is not a JSON object: \(json)")
            for key in ["architectures", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                        "num_key_value_heads", "vocab_size", "tie_word_embeddings", "attention_bias"] {
                let saved = parsed[key] as? NSObject, written = model.json[key] as? NSObject
                #expect(saved != nil && saved == written,
                        "model_config_json '\(key)': \(parsed[key] ?? "missing"), config.json \(model.json[key] ?? "missing")")
            }

            // /model: exactly the documented tensors, float32, Hugging Face shapes.
            let group = try file.root.group("model")
            #expect(Set(group.datasets.keys) == Set(tensors.map(\.name)), """
                /model datasets: unexpected \(Set(group.datasets.keys).subtracting(tensors.map(\.name)).sorted()), \
                missing \(Set(tensors.map(\.name)).subtracting(group.datasets.keys).sorted())
                """)
            for tensor in tensors {
                guard let dataset = group.datasets[tensor.name] else { continue }
                #expect(dataset.dtype == "float32" && dataset.shape == tensor.shape,
                        "/model/\(tensor.name): \(dataset.dtype) \(dataset.shape), expected float32 \(tensor.shape)")
            }
            try #require(Set(group.datasets.keys) == Set(tensors.map(\.name)))

            // The values are the final weights, in the documented flat order.
            let flat = try file.flatParameters(model)
            let final = dump.parameters.map(Float.init)
            try #require(flat.count == final.count, "\(flat.count) values in /model, \(final.count) in the dump")
            let differing = zip(flat, final).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
            #expect(differing.isEmpty, """
                \(differing.count) of \(flat.count) /model values differ from the final parameters, first at flat \
                index \(differing.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")
                """)
            let stored = group.attributes["checksum"]
            #expect(stored?.type == "str" && stored?.string == checkpointChecksum(flat),
                    "/model checksum \(stored?.string ?? "missing"), FNV-1a of the values \(checkpointChecksum(flat))")

            // /optimizer: AdamW's moments, flat, one value per parameter.
            let optimizer = try file.root.group("optimizer")
            #expect(optimizer.attributes["type"]?.string == "adamw")
            #expect(optimizer.attributes["step"]?.int == 8, "optimizer step \(optimizer.attributes["step"]?.int ?? -1)")
            for name in ["exp_avg", "exp_avg_sq"] {
                let moment = try optimizer.dataset(name)
                #expect(moment.dtype == "float32" && moment.shape == [parameterCount],
                        "/optimizer/\(name): \(moment.dtype) \(moment.shape), expected float32 [\(parameterCount)]")
                let values = moment.floats ?? []
                #expect(values.allSatisfy(\.isFinite) && values.contains { $0 != 0 }, "/optimizer/\(name) is not finite or all zero")
                let checksum = optimizer.attributes["\(name)_checksum"]?.string
                #expect(checksum == checkpointChecksum(values),
                        "/optimizer \(name)_checksum \(checksum ?? "missing"), FNV-1a of the values \(checkpointChecksum(values))")
            }
            #expect((try optimizer.dataset("exp_avg_sq").floats ?? []).allSatisfy { $0 >= 0 }, "negative exp_avg_sq")

            // The step-4 checkpoint holds the position of step 4: cursor, epoch and learning rate
            // of the next step, as the metrics file recorded them.
            let middle = try CheckpointFile(out.checkpoint(step: 4))
            let metrics = try H5Py.dump(out.metrics)
            #expect(middle.intAttribute("step") == 4 && middle.intAttribute("next_global_batch") == 4
                    && middle.intAttribute("schedule_step") == 4)
            #expect(middle.intAttribute("epoch") == (try metrics.dataset("epoch").ints?[4]),
                    "epoch \(middle.intAttribute("epoch") ?? -1), metrics epoch of step 4 \((try? metrics.dataset("epoch").ints?[4]) ?? -1)")
            let nextRate = middle.root.attributes["learning_rate_next"]?.double
            let recordedRate = try metrics.dataset("lr").values[4]
            #expect(nextRate == recordedRate, "learning_rate_next \(nextRate ?? .nan), lr of step 4 in metrics.h5 \(recordedRate)")
            #expect(try middle.root.group("optimizer").attributes["step"]?.int == 4)
        }
    }
}
