from flowweaver import Task, Workflow, SequentialExecutor

# Define tasks
extract = Task(name="extract", fn=lambda: {"data": [1, 2, 3, 4, 5]})
transform = Task(name="transform", fn=lambda: {"doubled": [2, 4, 6, 8, 10]})
load = Task(name="load", fn=lambda: print("✓ Data loaded"))

# Build workflow
workflow = Workflow(name="ETL Pipeline")
workflow.add_task(extract)
workflow.add_task(transform, depends_on=["extract"])
workflow.add_task(load, depends_on=["transform"])

# Execute
executor = SequentialExecutor()
executor.execute(workflow)

# Access results
data = workflow.get_task_result("extract")
print(data)  # {'data': [1, 2, 3, 4, 5]}
