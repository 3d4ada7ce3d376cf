"""The paper's padded INN (Ardizzone et al. 2019) for sO2, packaged beside the cINN as
``oximetry.PAPER_INN_DIR``; made by ``python -m oximetry.pretrain`` with the PAPER_INN settings."""
