# Which notebooks read the artifacts of which others: a notebook re-runs when one of these did.
# (Included by the Makefile; $(BUILD) and $(PROFILE) come from there.)
EX := $(BUILD)/executed/$(PROFILE)
$(EX)/02_teacher.ipynb: $(EX)/01_data.ipynb            # the corpus (which emoji are held out)
$(EX)/03_train.ipynb: $(EX)/01_data.ipynb $(EX)/02_teacher.ipynb  # the corpus; the teacher scores the weight sweep
$(EX)/04_evaluate.ipynb: $(EX)/02_teacher.ipynb $(EX)/03_train.ipynb  # teacher and students
$(EX)/05_ablations.ipynb: $(EX)/02_teacher.ipynb $(EX)/03_train.ipynb  # teacher, runs to reuse
$(EX)/06_figures.ipynb: $(EX)/02_teacher.ipynb $(EX)/03_train.ipynb    # teacher and students
$(EX)/07_topology.ipynb: $(EX)/02_teacher.ipynb                        # the teacher's text tower
$(EX)/08_embedding_geometry.ipynb: $(EX)/02_teacher.ipynb $(EX)/03_train.ipynb  # teacher and students
