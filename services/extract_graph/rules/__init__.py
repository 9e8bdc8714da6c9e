"""The parts of ``RuleExtractor`` (services/extract_graph/extractor.py): word classes, sentences and
mentions, concepts, skeleton patterns."""
