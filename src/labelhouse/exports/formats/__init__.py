"""One module per export format for training code (Parquet, Hugging Face, TRL, COCO, YOLO,
VOC, spaCy, CoNLL, Label Studio): each a streaming writer registered in
``exports/writers.FORMATS`` with its option parser."""
