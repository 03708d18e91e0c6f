"""One module per notebook stage: what each notebook of the companion does, in the library.

data (01) -> teacher (02) -> grid, distillation, sweep (03) -> tables (04) -> ablations (05) -> findings
(the words). Stages hand each other records (tomclip_lib.records), never objects in memory;
notebooks 06-08 draw on analysis/ and plots.
"""
