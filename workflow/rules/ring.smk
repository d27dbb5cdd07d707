# 2D Gaussian-mixture studies: batched multi-seed training, aggregation, paper comparison,
# figures. Each rule names its files and resources and calls the gansweep CLI
# (`python -m gansweep`, from the workflow's src/: see common.smk); every value is quoted (:q).


localrules:
    job_spec,
    aggregate_ring,
    compare_paper,


rule job_spec:
    output:
        "results/{study}/specs/{job}.json",
    log:
        "logs/{study}/specs/{job}.log",
    priority: ring_job_priority
    params:
        spec=job_spec_json,
    run:
        from gansweep.io import write_text

        write_text(params.spec, output[0])


rule train_ring:
    input:
        spec="results/{study}/specs/{job}.json",
    output:
        runs="results/{study}/jobs/{job}.parquet",
        samples="results/{study}/samples/{job}.parquet",
    log:
        "logs/{study}/train/{job}.log",
    benchmark:
        "logs/{study}/benchmarks/train/{job}.tsv"
    priority: ring_job_priority
    conda:
        "../../envs/gansweep.yaml"
    threads: study_setting("execution", "threads")
    resources:
        gpu=study_setting("resources", "gpu"),
        runtime=study_setting("resources", "runtime"),
        mem_mb=train_mem_mb,
    params:
        checkpoint="results/{study}/checkpoints/{job}.pt",
    shell:
        "python -m gansweep train-ring --spec={input.spec:q} --runs={output.runs:q}"
        " --samples={output.samples:q} --checkpoint={params.checkpoint:q} 2> {log:q}"


rule aggregate_ring:
    input:
        study_job_tables("jobs"),
    output:
        runs="results/{study}/runs.parquet",
        summary="results/{study}/summary.parquet",
    log:
        "logs/{study}/aggregate.log",
    benchmark:
        "logs/{study}/benchmarks/aggregate.tsv"
    wildcard_constraints:
        study=RING_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep aggregate --runs={output.runs:q} --summary={output.summary:q}"
        " -- {input:q} 2> {log:q}"


rule compare_paper:
    input:
        "results/{study}/summary.parquet",
    output:
        report(
            "results/{study}/paper_comparison.csv",
            caption="../report/paper_comparison.rst",
            category="{study}",
            subcategory="paper",
        ),
    log:
        "logs/{study}/compare_paper.log",
    benchmark:
        "logs/{study}/benchmarks/compare_paper.tsv"
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep compare-paper --summary={input:q} --out={output:q} 2> {log:q}"


rule ring_figure:
    input:
        figure_tables,
    output:
        png=report(
            "results/{study}/figures/{figure}.png",
            caption="../report/ring_figure.rst",
            category="{study}",
            subcategory="figures",
        ),
        pdf="results/{study}/figures/{figure}.pdf",
    log:
        "logs/{study}/figures/{figure}.log",
    benchmark:
        "logs/{study}/benchmarks/figures/{figure}.tsv"
    wildcard_constraints:
        study=RING_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    params:
        dataset=study_setting("dataset"),
    shell:
        "python -m gansweep figure {wildcards.figure:q} --dataset={params.dataset:q}"
        " --out={output.png:q} -- {input:q} 2> {log:q}"
