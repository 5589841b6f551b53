# A module with a syntax error, for imports.yaml: importing it is a problem, not a traceback.
def run(:
    pass
