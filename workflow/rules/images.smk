# Image studies: dataset download (local: compute nodes need no internet), one-off
# preprocessing into memory-mapped uint8 arrays, and training jobs per cell and seed(s).


localrules:
    download_dataset,
    image_job_spec,
    aggregate_image_training,


rule download_dataset:
    output:
        f"{DATA_DIR}/{{dataset}}/download.json",
    log:
        "logs/data/{dataset}/download.log",
    retries: 2
    conda:
        "../../envs/gansweep.yaml"
    params:
        data_dir=DATA_DIR,
        source=download_source,
    shell:
        "gansweep download {wildcards.dataset} --data-root {params.data_dir} {params.source} 2> {log}"


rule prepare_dataset:
    input:
        f"{DATA_DIR}/{{dataset}}/download.json",
    output:
        meta=f"{DATA_DIR}/{{dataset}}/prepared/meta.json",
        train=f"{DATA_DIR}/{{dataset}}/prepared/train_images.npy",
        test=f"{DATA_DIR}/{{dataset}}/prepared/test_images.npy",
    log:
        "logs/data/{dataset}/prepare.log",
    conda:
        "../../envs/gansweep.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        data_dir=DATA_DIR,
    shell:
        "gansweep prepare {wildcards.dataset} --data-root {params.data_dir} --workers {threads} 2> {log}"


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
        "gansweep train-image --spec {input.spec} --out-dir {params.out_dir} 2> {log}"


rule aggregate_image_training:
    input:
        image_job_tables,
    output:
        runs="results/{study}/train_runs.parquet",
        log="results/{study}/train_log.parquet",
        grads="results/{study}/train_grads.parquet",
    log:
        "logs/{study}/aggregate_training.log",
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "gansweep aggregate-training --runs {output.runs} --log {output.log}"
        " --grads {output.grads} {input} 2> {log}"
