# Which notebooks read the artifacts of which others: a notebook re-runs when one of these did.
# (Included by the Makefile; $(BUILD) and $(PROFILE) come from there.)
EX := $(BUILD)/executed/$(PROFILE)
