from flowweaver import Task, Workflow
from flowweaver import SequentialExecutor  # added: the document never imports it
import random

workflow = Workflow(name="Conditional Processing")

def check_condition() -> bool:
    return random.choice([True, False])

def process_if_true() -> str:
    return "Condition was true!"

def process_if_false() -> str:
    return "Condition was false!"

# Create parallel branches based on condition
condition_task = Task(name="check", fn=check_condition)

true_branch = Task(name="true_path", fn=process_if_true)
false_branch = Task(name="false_path", fn=process_if_false)

workflow.add_task(condition_task)
# Note: In a real scenario, use a wrapper task that selectively executes branches
workflow.add_task(true_branch, depends_on=["check"])
workflow.add_task(false_branch, depends_on=["check"])

executor = SequentialExecutor()  # Sequential for this example
executor.execute(workflow)
