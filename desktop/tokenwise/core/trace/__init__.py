"""The record of a generation: Step, Candidate and Stage records, their JSON and packed
forms, the plain-language explanation of a step, and export to files."""
