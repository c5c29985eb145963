"""The build flow of the book (DESIGN.md): execute the notebooks, hold their numbers, build the HTML.

``python -m mgn execute`` runs steps 1-3 (jupytext, papermill with the mode's parameters, the
results JSON), ``python -m mgn build`` step 5 (Jupyter Book on the executed notebooks) and
``python -m mgn baselines`` rewrites the regression baselines that pytest holds (step 4);
``python -m mgn mutations`` plants known regressions in copies of ``mgn`` and reports which checks or
baselines catch them.
"""
