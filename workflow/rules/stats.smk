# Statistics per study: every cell against the study's baseline cell (comparisons.parquet, a
# CSV twin for the report) and the seed-planning / power table. Thin rules over the CLI.


localrules:
    compare_ring_cells,
    compare_image_cells,
    power_table,


rule compare_ring_cells:
    input:
        "results/{study}/summary.parquet",
    output:
        table="results/{study}/comparisons.parquet",
        csv=report(
            "results/{study}/comparisons.csv",
            caption="../report/comparisons.rst",
            category="{study}",
            subcategory="statistics",
        ),
    log:
        "logs/{study}/comparisons.log",
    benchmark:
        "logs/{study}/benchmarks/comparisons.tsv"
    wildcard_constraints:
        study=RING_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    params:
        # The study's `baseline:` as JSON; {} = the default (the vanilla GAN).
        baseline=lambda w: json.dumps(
            STUDIES[w.study].get("baseline", {}), sort_keys=True
        ),
    shell:
        "python -m gansweep compare --study={wildcards.study:q} --summary={input:q}"
        " --baseline={params.baseline:q} --out={output.table:q} --csv={output.csv:q} 2> {log:q}"


rule compare_image_cells:
    input:
        "results/{study}/runs.parquet",
    output:
        table="results/{study}/comparisons.parquet",
        csv=report(
            "results/{study}/comparisons.csv",
            caption="../report/comparisons.rst",
            category="{study}",
            subcategory="statistics",
        ),
    log:
        "logs/{study}/comparisons.log",
    benchmark:
        "logs/{study}/benchmarks/comparisons.tsv"
    wildcard_constraints:
        study=IMAGE_STUDY,
    conda:
        "../../envs/gansweep.yaml"
    params:
        # The study's `baseline:` as JSON; {} = the default (the vanilla GAN).
        baseline=lambda w: json.dumps(
            STUDIES[w.study].get("baseline", {}), sort_keys=True
        ),
    shell:
        "python -m gansweep compare --study={wildcards.study:q} --runs={input:q}"
        " --baseline={params.baseline:q} --out={output.table:q} --csv={output.csv:q} 2> {log:q}"


rule power_table:
    input:
        "results/{study}/comparisons.parquet",
    output:
        report(
            "results/{study}/power.csv",
            caption="../report/power.rst",
            category="{study}",
            subcategory="statistics",
        ),
    log:
        "logs/{study}/power.log",
    benchmark:
        "logs/{study}/benchmarks/power.tsv"
    conda:
        "../../envs/gansweep.yaml"
    shell:
        "python -m gansweep seeds-needed --comparisons={input:q} --out={output:q} > {log:q} 2>&1"
