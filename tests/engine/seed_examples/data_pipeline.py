from flowweaver import Task, Workflow, SequentialExecutor

def extract_csv(path: str) -> list[dict]:
    """Extract data from CSV file"""
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))

def validate_data(data: list[dict]) -> list[dict]:
    """Remove invalid records"""
    return [r for r in data if len(r) > 0]

def transform_data(data: list[dict]) -> list[dict]:
    """Apply transformations"""
    return [{**r, "processed": True} for r in data]

def load_database(data: list[dict]) -> int:
    """Load to database - with retry"""
    # Simulated DB connection
    if not data:
        raise ValueError("No data to load")
    return len(data)

# Create workflow with error handling
workflow = Workflow(name="Data Pipeline")

extract_task = Task(name="extract", fn=lambda: extract_csv("data.csv"))
validate_task = Task(name="validate", fn=lambda: validate_data([]), depends_on=["extract"])
transform_task = Task(name="transform", fn=lambda: transform_data([]), depends_on=["validate"])
load_task = Task(
    name="load",
    fn=lambda: load_database([]),
    depends_on=["transform"],
    retries=2,  # Retry up to 2 times on failure
    timeout=30.0
)

for task in [extract_task, validate_task, transform_task, load_task]:
    workflow.add_task(task) if task.name == "extract" else workflow.add_task(
        task, depends_on=task.depends_on if hasattr(task, 'depends_on') else []
    )

executor = SequentialExecutor()
try:
    executor.execute(workflow)
    stats = workflow.get_workflow_stats()
    print(f"✅ Pipeline completed: {stats}")
except RuntimeError as e:
    print(f"❌ Pipeline failed: {e}")
