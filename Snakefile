# gansweep: GAN-loss comparisons from config to parquet tables and figures.
# Thin entry point: configuration, validation and planning live in workflow/rules/common.smk
# and the gansweep package; rules live in workflow/rules/*.smk.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default study set; a preset passed with --configfile replaces it.
if "studies" not in config and "include" not in config:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ring.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/stats.smk"


rule all:
    default_target: True
    input:
        all_targets(),
