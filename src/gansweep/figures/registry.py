"""Which tables each image-study figure is drawn from (the rules and the CLI share this)."""

IMAGE_FIGURE_INPUTS: dict[str, tuple[str, ...]] = {
    "fid_vs_lr": ("summary",),
    "fid_over_epochs": ("summary",),
    # The authors' non-standard FID (torchvision logits), drawn apart, only when configured.
    "fid_tv_logits_vs_lr": ("summary",),
    # Recall and coverage (PRDC on the FID features) beside FID; a placeholder without them.
    "diversity_vs_lr": ("summary",),
    "loss_curves": ("train_log", "train_runs"),
    "vanishing_gradients": ("train_grads", "train_runs"),
    "interpolations": ("images",),
    "class_grids": ("images",),
    "sample_grids": ("images",),
}
