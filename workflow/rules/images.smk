# Image studies: dataset download (local: compute nodes need no internet), one-off
# preprocessing into memory-mapped uint8 arrays, and training jobs per cell and seed(s).
# Rules call `python -m gansweep` (see common.smk); every value is quoted (:q), config strings
# (URLs, data_dir, weights_dir) included.


localrules:
    download_dataset,
    fetch_weights,
    image_job_spec,
    aggregate_image_training,
    aggregate_image,


rule download_dataset:
    output:
        f"{DATA_DIR}/{{dataset}}/download.json",
    log:
        "logs/data/{dataset}/download.log",
    benchmark:
        "logs/data/{dataset}/benchmarks/download.tsv"
    retries: 2
    conda:
        "../../envs/gansweep.yaml"
    params:
        data_dir=subpath(output[0], ancestor=2),
        source=download_source,
    shell:
        "python -m gansweep download {wildcards.dataset:q} --data-root={params.data_dir:q}"
        " {params.source:q} 2> {log:q}"


rule prepare_dataset:
    input:
        f"{DATA_DIR}/{{dataset}}/download.json",
    output:
        meta=f"{DATA_DIR}/{{dataset}}/prepared/meta.json",
        train=f"{DATA_DIR}/{{dataset}}/prepared/train_images.npy",
        test=f"{DATA_DIR}/{{dataset}}/prepared/test_images.npy",
    log:
        "logs/data/{dataset}/prepare.log",
    benchmark:
        "logs/data/{dataset}/benchmarks/prepare.tsv"
    conda:
        "../../envs/gansweep.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        data_dir=subpath(output.meta, ancestor=3),
    shell:
        "python -m gansweep prepare {wildcards.dataset:q} --data-root={params.data_dir:q}"
        " --workers={threads:q} 2> {log:q}"


rule image_job_spec:
    output:
        "results/{study}/specs/{cell}/{job}.json",
    log:
        "logs/{study}/specs/{cell}/{job}.log",
    params:
        spec=image_job_spec_json,
    run:
        from gansweep.io import write_text

        write_text(params.spec, output[0])


rule train_image:
    input:
        spec="results/{study}/specs/{cell}/{job}.json",
        data=prepared_data,
    output:
        runs="results/{study}/runs/{cell}/{job}/runs.parquet",
        log="results/{study}/runs/{cell}/{job}/log.parquet",
        grads="results/{study}/runs/{cell}/{job}/grads.parquet",
    log:
        "logs/{study}/train/{cell}/{job}.log",
    benchmark:
        "logs/{study}/benchmarks/train/{cell}/{job}.tsv"
    conda:
        "../../envs/gansweep.yaml"
    threads: study_setting("execution", "threads")
    resources:
        gpu=study_setting("resources", "gpu"),
        runtime=study_setting("resources", "runtime"),
        mem_mb=train_mem_mb,
    params:
        out_dir=subpath(output.runs, parent=True),
    shell:
        "python -m gansweep train-image --spec={input.spec:q} --out-dir={params.out_dir:q}"
        " 2> {log:q}"


rule aggregate_image_training:
    input:
        image_job_files("runs.parquet"),
    output:
        runs="results/{study}/train_runs.parquet",
        log="results/{study}/train_log.parquet",
        grads="results/{study}/train_grads.parquet",
    log:
        "logs/{study}/aggregate_training.log",
    benchmark:
        "logs/{study}/benchmarks/aggregate_training.tsv"
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep aggregate-training --runs={output.runs:q} --log={output.log:q}"
        " --grads={output.grads:q} -- {input:q} 2> {log:q}"


rule fetch_weights:
    output:
        f"{FID['weights_dir']}/{{metric}}/{{file}}",
    log:
        "logs/weights/{metric}/{file}.log",
    benchmark:
        "logs/weights/{metric}/benchmarks/{file}.tsv"
    retries: 2
    conda:
        "../../envs/gansweep.yaml"
    params:
        weights_dir=subpath(output[0], parent=True),
        source=metric_weights_source,
    shell:
        "python -m gansweep fetch-weights {wildcards.metric:q}"
        " --weights-dir={params.weights_dir:q} {params.source:q} 2> {log:q}"


# Reference statistics need no internet (the weights come from fetch_weights). By default
# they are computed here, on the login node, once per dataset and split; set
# fid.reference_stats_local: false to send them to a GPU node instead (CelebA/LSUN train
# splits are 130–160k images: minutes on a GPU, hours on a CPU).
rule reference_stats:
    input:
        data=f"{DATA_DIR}/{{dataset}}/prepared/meta.json",
        weights=metric_weights_file,
    output:
        f"{DATA_DIR}/fid_stats/{{metric}}/{{dataset}}-{{split}}.npz",
    log:
        "logs/fid_stats/{metric}/{dataset}-{split}.log",
    benchmark:
        "logs/fid_stats/{metric}/benchmarks/{dataset}-{split}.tsv"
    localrule: FID["reference_stats_local"]
    conda:
        "../../envs/gansweep.yaml"
    threads: FID["threads"]
    resources:
        gpu=FID["resources"]["gpu"],
        runtime=FID["resources"]["runtime"],
        mem_mb=FID["resources"]["mem_mb"],
    params:
        data_dir=subpath(input.data, ancestor=3),
        device=FID["device"],
        batch_size=FID["batch_size"],
        check=metric_weights_check,
    shell:
        "python -m gansweep reference-stats {wildcards.metric:q} {wildcards.dataset:q}"
        " {wildcards.split:q} --data-root={params.data_dir:q} --weights={input.weights:q}"
        " --out={output:q} --device={params.device:q} --batch-size={params.batch_size:q}"
        " --threads={threads:q} {params.check:q} 2> {log:q}"


rule evaluate_image:
    input:
        unpack(evaluation_inputs),
    output:
        table="results/{study}/runs/{cell}/{job}/eval.parquet",
        images="results/{study}/runs/{cell}/{job}/images.npz",
    log:
        "logs/{study}/evaluate/{cell}/{job}.log",
    benchmark:
        "logs/{study}/benchmarks/evaluate/{cell}/{job}.tsv"
    conda:
        "../../envs/gansweep.yaml"
    threads: FID["threads"]
    resources:
        gpu=FID["resources"]["gpu"],
        runtime=FID["resources"]["runtime"],
        mem_mb=FID["resources"]["mem_mb"],
    params:
        options=evaluation_options,
        n_samples=study_setting("eval", "n_samples"),
        eval_seed=study_setting("eval", "seed"),
        feature_metrics=study_setting("eval", "feature_metrics"),
        feature_samples=study_setting("eval", "feature_samples"),
        device=FID["device"],
        batch_size=FID["batch_size"],
        job_dir=subpath(input.train, parent=True),
    shell:
        "python -m gansweep evaluate-image --spec={input.spec:q} --job-dir={params.job_dir:q}"
        " {params.options:q} --n-samples={params.n_samples:q} --eval-seed={params.eval_seed:q}"
        " --feature-samples={params.feature_samples:q} --feature-metrics {params.feature_metrics:q}"
        " --device={params.device:q} --batch-size={params.batch_size:q} --threads={threads:q}"
        " --out={output.table:q} --images={output.images:q} 2> {log:q}"


rule aggregate_image:
    input:
        evals=image_job_files("eval.parquet"),
        train_runs="results/{study}/train_runs.parquet",
    output:
        runs="results/{study}/runs.parquet",
        summary="results/{study}/summary.parquet",
    log:
        "logs/{study}/aggregate.log",
    benchmark:
        "logs/{study}/benchmarks/aggregate.tsv"
    wildcard_constraints:
        study=IMAGE_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep aggregate-image --train-runs={input.train_runs:q}"
        " --runs={output.runs:q} --summary={output.summary:q} -- {input.evals:q} 2> {log:q}"


rule image_figure:
    input:
        image_figure_inputs,
    output:
        png=report(
            "results/{study}/figures/{figure}.png",
            caption="../report/image_figure.rst",
            category="{study}",
            subcategory="figures",
        ),
        pdf="results/{study}/figures/{figure}.pdf",
    log:
        "logs/{study}/figures/{figure}.log",
    benchmark:
        "logs/{study}/benchmarks/figures/{figure}.tsv"
    wildcard_constraints:
        study=IMAGE_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep image-figure {wildcards.figure:q} --out={output.png:q}"
        " -- {input:q} 2> {log:q}"
