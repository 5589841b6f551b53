# added: the document leaves these names undefined
from flowweaver import Task, Workflow

workflow = Workflow(name="validation")
task_a = Task(name="task_a", fn=lambda: "a")
task_b = Task(name="task_b", fn=lambda: "b")
task_c = Task(name="task_c", fn=lambda: "c")
# the document's example, verbatim:

try:
    workflow.add_task(task_c, depends_on=["nonexistent_task"])
except ValueError as e:
    print(f"Dependency error: {e}")

try:
    workflow.add_task(task_a, depends_on=["task_b"])
    workflow.add_task(task_b, depends_on=["task_a"])  # Circular!
except ValueError as e:
    print(f"Cycle detected: {e}")
