extension TrainConfig {
    /// What `dft-mpi bench` trains: `steps` optimizer steps of `rows` rows of `length` tokens per
    /// rank (random tokens, `data: random`), lr 1e-5 without warm-up, under the training settings
    /// the command was given (`settings`: objective, LoRA, ZeRO, recomputation, ...).
    public static func benchmark(model: String, rows: Int, length: Int, steps: Int, ranks: Int, threads: Int,
                                 settings: [String: Any]) throws -> TrainConfig {
        let own: [String: Any] = [
            "model": model, "data": "random", "global_batch": rows * ranks, "micro_batch": rows, "max_length": length,
            "steps": steps, "warmup_ratio": 0.0, "lr": 1e-5,
        ]
        var config = try decode(layer: own.merging(settings) { _, given in given })
        config.threads = threads  // as the command resolved them (ThreadPolicy)
        try config.validate()
        return config
    }
}
