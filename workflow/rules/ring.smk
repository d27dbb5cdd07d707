# 2D Gaussian-mixture studies: batched multi-seed training, aggregation, paper comparison,
# figures. Each rule names its files and resources and calls the gansweep CLI.


localrules:
    job_spec,
    aggregate_ring,
    compare_paper,


rule job_spec:
    output:
        "results/{study}/specs/{job}.json",
    log:
        "logs/{study}/specs/{job}.log",
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
        "gansweep train-ring --spec {input.spec} --runs {output.runs}"
        " --samples {output.samples} --checkpoint {params.checkpoint} 2> {log}"


rule aggregate_ring:
    input:
        study_job_tables("jobs"),
    output:
        runs="results/{study}/runs.parquet",
        summary="results/{study}/summary.parquet",
    log:
        "logs/{study}/aggregate.log",
    wildcard_constraints:
        study=RING_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "gansweep aggregate --runs {output.runs} --summary {output.summary} {input} 2> {log}"


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
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "gansweep compare-paper --summary {input} --out {output} 2> {log}"


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
    wildcard_constraints:
        study=RING_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    params:
        dataset=study_setting("dataset"),
    shell:
        "gansweep figure {wildcards.figure} --dataset {params.dataset}"
        " --out {output.png} {input} 2> {log}"
