{{ config(materialized='table') }}
-- One row per student-module attempt: demographics + registration + course + click-log coverage.

with info as (

    select * from {{ ref('stg_oulad__student_info') }}

),

registration as (

    select * from {{ ref('stg_oulad__student_registration') }}

),

courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

coverage as (

    select * from {{ ref('int_click_coverage_measured') }}

),

observed as (

    select * from {{ ref('int_presentations_observed_by_export') }}

)

select
    info.student_module_id,
    info.module_presentation_id,
    info.code_module,
    info.code_presentation,
    info.id_student,
    courses.presentation_year,
    courses.presentation_semester,
    courses.module_presentation_length,
    info.gender,
    info.region,
    info.highest_education,
    info.imd_band,
    info.age_band,
    info.disability,
    info.has_disability,
    info.num_of_prev_attempts,
    info.studied_credits,
    registration.registration_day,
    registration.unregistration_day,
    info.final_result,
    info.final_result = 'Withdrawn' as is_withdrawn,
    coverage.has_click_log,
    coverage.coverage_status as click_coverage_status,
    coverage.click_data_through_day,
    -- How far the loaded data reaches into the presentation: NULL = whole (a finished history), else the export
    -- date's course day (a live term).
    observed.observed_through_day as presentation_observed_through_day
from info
left join registration on info.student_module_id = registration.student_module_id
left join courses on info.module_presentation_id = courses.module_presentation_id
left join coverage on info.module_presentation_id = coverage.module_presentation_id
left join observed on info.module_presentation_id = observed.module_presentation_id
