-- One row per module-presentation: course facts, measured click-log coverage and student counts.

with courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

coverage as (

    select * from {{ ref('int_click_coverage_measured') }}

),

attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

assessments as (

    select
        module_presentation_id,
        count(*) as n_assessments
    from {{ ref('stg_oulad__assessments') }}
    group by module_presentation_id

),

sites as (

    select
        module_presentation_id,
        count(*) as n_vle_sites
    from {{ ref('stg_oulad__vle') }}
    group by module_presentation_id

),

student_counts as (

    select
        module_presentation_id,
        count(*) as n_students,
        count(*) filter (where final_result = 'Withdrawn') as n_withdrawn,
        count(*) filter (where final_result = 'Fail') as n_failed,
        count(*) filter (where final_result = 'Pass') as n_passed,
        count(*) filter (where final_result = 'Distinction') as n_distinction
    from attempts
    group by module_presentation_id

)

select
    courses.module_presentation_id,
    courses.code_module,
    courses.code_presentation,
    courses.presentation_year,
    courses.presentation_semester,
    courses.presentation_start_month,
    courses.module_presentation_length,
    coverage.has_click_log,
    coverage.coverage_status,
    coverage.first_click_day,
    coverage.last_click_day,
    coverage.click_data_through_day,
    coverage.n_students_with_clicks,
    coalesce(sites.n_vle_sites, 0) as n_vle_sites,
    coalesce(assessments.n_assessments, 0) as n_assessments,
    coalesce(student_counts.n_students, 0) as n_students,
    coalesce(student_counts.n_withdrawn, 0) as n_withdrawn,
    coalesce(student_counts.n_failed, 0) as n_failed,
    coalesce(student_counts.n_passed, 0) as n_passed,
    coalesce(student_counts.n_distinction, 0) as n_distinction,
    {{ safe_ratio('student_counts.n_withdrawn', 'student_counts.n_students', 4) }} as withdrawal_rate,
    {{ safe_ratio('student_counts.n_passed + student_counts.n_distinction', 'student_counts.n_students', 4) }}
        as pass_rate
from courses
left join coverage on courses.module_presentation_id = coverage.module_presentation_id
left join assessments on courses.module_presentation_id = assessments.module_presentation_id
left join sites on courses.module_presentation_id = sites.module_presentation_id
left join student_counts on courses.module_presentation_id = student_counts.module_presentation_id
